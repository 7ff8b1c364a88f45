using Azure;
using Azure.Identity;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage;

/// <summary>The SDK's failures as <see cref="TraceStoreException"/>s that name the operation, the blob and what to do.</summary>
public sealed partial class BlobObjectStore
{
    /// <summary>What the SDK raises for a failed call: an HTTP answer, no answer on any attempt, or no token.</summary>
    internal static bool IsStorageFailure(Exception ex) =>
        ex is RequestFailedException or AuthenticationFailedException
        || (ex is AggregateException aggregate && aggregate.InnerExceptions.All(e => e is RequestFailedException or TaskCanceledException or TimeoutException));

    /// <summary>A <see cref="IsStorageFailure"/> exception as a <see cref="TraceStoreException"/> naming the operation and blob.</summary>
    internal TraceStoreException Translate(Exception ex, string operation, string path) => ex switch
    {
        RequestFailedException failed => Map(failed, operation, path),
        AggregateException unreachable => MapUnreachable(unreachable, operation, path),
        AuthenticationFailedException credential => MapCredential(credential),
        _ => throw new ArgumentException($"not a storage failure: {ex.GetType()}", nameof(ex)),
    };

    private static bool IsNotFound(RequestFailedException ex) =>
        ex.ErrorCode is "BlobNotFound" or "ContainerNotFound" || ex.Status == 404;

    private TraceStoreException Map(RequestFailedException ex, string operation, string path)
    {
        var target = path.Length == 0 ? Location : $"'{path}' in {Location}";
        if (ex.Status == 403 || ex.ErrorCode is "AuthorizationFailure" or "AuthorizationPermissionMismatch" or "AuthenticationFailed")
        {
            return new TraceStoreException(
                $"blob storage denied {operation} of {target} ({Describe(ex)}): with a managed identity grant it " +
                "'Storage Blob Data Contributor' on the account or container; with a connection string check its key or SAS", ex);
        }

        if (ex.ErrorCode == "ContainerNotFound")
        {
            // Deleted behind our back: create it again on the next write.
            _containerReady = false;
        }

        var reason = ex.Status == 0 ? ex.Message.Split('\n')[0] : Describe(ex);
        return new TraceStoreException($"blob storage {operation} of {target} failed: {reason}", ex);
    }

    // The SDK reports a request that failed on every attempt without an HTTP answer (connection refused, DNS, timeout)
    // as an AggregateException of one exception per attempt: RequestFailedException (status 0), or TaskCanceledException
    // when the attempt ran past NetworkTimeout.
    private TraceStoreException MapUnreachable(AggregateException ex, string operation, string path)
    {
        var target = path.Length == 0 ? Location : $"'{path}' in {Location}";
        var last = ex.InnerExceptions[^1];
        return last is RequestFailedException { Status: > 0 } answered
            ? Map(answered, operation, path)
            : new TraceStoreException(
                $"blob storage could not be reached for {operation} of {target} after {ex.InnerExceptions.Count} attempts: {last.Message.Split('\n')[0]}", ex);
    }

    private static string Describe(RequestFailedException ex) =>
        string.IsNullOrEmpty(ex.ErrorCode) ? $"HTTP {ex.Status}" : $"HTTP {ex.Status} {ex.ErrorCode}";

    private TraceStoreException MapCredential(AuthenticationFailedException ex) =>
        new($"could not get a token for {Location}: {ex.Message.Split('\n')[0]}", ex);
}
