namespace SpecFunctions.Core.Evaluation;

/// <summary>A parsed value, or the reasons there is none.</summary>
public sealed class ParseResult<T>
    where T : class
{
    private ParseResult(T? value, IReadOnlyList<ValidationError> errors)
    {
        Value = value;
        Errors = errors;
    }

    /// <summary>The value; null exactly when <see cref="Errors"/> is not empty.</summary>
    public T? Value { get; }

    public IReadOnlyList<ValidationError> Errors { get; }

    public bool IsValid => Value is not null;

    public static ParseResult<T> Success(T value) => new(value ?? throw new ArgumentNullException(nameof(value)), []);

    public static ParseResult<T> Failure(IReadOnlyList<ValidationError> errors) =>
        errors is { Count: > 0 } ? new(null, errors) : throw new ArgumentException("a failure needs at least one error", nameof(errors));
}
