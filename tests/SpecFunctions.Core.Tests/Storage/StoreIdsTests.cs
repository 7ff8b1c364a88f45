using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Tests.Storage;

/// <summary>Ids are anchored at the true end of the string: .NET's <c>$</c> also matches before a final <c>\n</c>.</summary>
public class StoreIdsTests
{
    [Theory]
    [InlineData("en\n")]
    [InlineData("evil\n")]
    [InlineData("run-1\n")]
    [InlineData("en\r\n")]
    [InlineData("\nen")]
    [InlineData("en\0")]
    [InlineData("")]
    public void IsValid_TrailingOrLeadingLineBreak_Refused(string id)
    {
        Assert.False(StoreIds.IsValid(id));
        Assert.Throws<ArgumentException>(() => StoreIds.Validate(id, "run"));
    }

    [Fact]
    public void IsValid_SixtyFourCharactersAndANewline_Refused()
    {
        Assert.True(StoreIds.IsValid(new string('a', 64)));
        Assert.False(StoreIds.IsValid(new string('a', 64) + "\n"));
    }

    [Fact]
    public void ValidateSha256_TrailingNewline_Refused()
    {
        var sha = new string('a', 64);

        Assert.Equal(sha, StoreIds.ValidateSha256(sha, "sha"));
        Assert.Throws<ArgumentException>(() => StoreIds.ValidateSha256(sha + "\n", "sha"));
    }

    [Theory]
    [InlineData("model.onnx\n")]
    [InlineData("sub/model.onnx\n")]
    [InlineData("sub\n/model.onnx")]
    public void ValidateRelativeFilePath_TrailingNewlineInASegment_Refused(string path) =>
        Assert.Throws<ArgumentException>(() => StoreIds.ValidateRelativeFilePath(path));

    [Fact]
    public void Validate_TrailingNewline_MessageKeepsOneLine()
    {
        var error = Assert.Throws<ArgumentException>(() => StoreIds.Validate("evil\n", "run"));

        Assert.StartsWith("invalid run id 'evil?': must match ^[a-z0-9][a-z0-9-_]{0,63}\\z", error.Message, StringComparison.Ordinal);
    }
}
