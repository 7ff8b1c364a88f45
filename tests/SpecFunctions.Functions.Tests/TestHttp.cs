using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;

namespace SpecFunctions.Functions.Tests;

/// <summary>What a function's result wrote to the response.</summary>
internal sealed record TestResponse(int Status, IHeaderDictionary Headers, string? ContentType, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
}

/// <summary>Requests on a bare <see cref="DefaultHttpContext"/>, as the ASP.NET Core integration hands them to functions.</summary>
internal static class TestHttp
{
    public const string Host = "specfn.example";

    public static HttpRequest Request(string method, string path, byte[]? body = null, string? contentType = null, string? query = null, bool sendLength = true)
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = method;
        request.Scheme = "https";
        request.Host = new HostString(Host);
        request.Path = path;
        if (query is not null)
        {
            request.QueryString = new QueryString(query);
        }

        request.ContentType = contentType;
        request.Body = new MemoryStream(body ?? []);
        if (body is not null && sendLength)
        {
            request.ContentLength = body.Length;
        }

        context.Response.Body = new MemoryStream();
        return request;
    }

    public static HttpRequest Json(string method, string path, string json) =>
        Request(method, path, Encoding.UTF8.GetBytes(json), "application/json");

    public static async Task<TestResponse> ExecuteAsync(this IActionResult result, HttpRequest request)
    {
        var context = request.HttpContext;
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
        var body = ((MemoryStream)context.Response.Body).ToArray();
        return new TestResponse(context.Response.StatusCode, context.Response.Headers, context.Response.ContentType, body);
    }
}
