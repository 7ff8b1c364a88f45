using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace SpecFunctions.Core.Reporting;

/// <summary>
/// The self-contained pages (the run report, the dashboard) are built as XHTML elements and written as HTML text here:
/// one doctype, indentation, and empty non-void elements written open-and-closed.
/// </summary>
internal static class HtmlDocument
{
    /// <summary>The XHTML namespace the pages' elements are in.</summary>
    public static readonly XNamespace H = "http://www.w3.org/1999/xhtml";

    // HTML's void elements: the only ones that may be written self-closed.
    private static readonly HashSet<string> VoidElements = ["meta", "br", "hr", "img", "input", "link", "col", "wbr"];

    /// <summary><paramref name="html"/> as an HTML document (doctype, indented), without a final newline.</summary>
    public static StringBuilder Write(XElement html)
    {
        foreach (var element in html.DescendantsAndSelf().Where(e => e.Name.Namespace == H && e.IsEmpty && !VoidElements.Contains(e.Name.LocalName)))
        {
            // "<td/>" would open an element that never closes in an HTML parser.
            element.Value = string.Empty;
        }

        var text = new StringBuilder("<!DOCTYPE html>\n");
        var settings = new XmlWriterSettings { OmitXmlDeclaration = true, Indent = true, IndentChars = " ", NewLineChars = "\n" };
        using (var writer = XmlWriter.Create(text, settings))
        {
            html.WriteTo(writer);
        }

        return text;
    }

    /// <summary>Writes <paramref name="page"/> to <paramref name="output"/> as UTF-8 without a byte-order mark.</summary>
    public static async Task WriteUtf8Async(string page, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        var bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(page);
        await output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
    }
}
