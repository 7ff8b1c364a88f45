namespace SpecFunctions.Core.Evaluation;

/// <summary>One problem with a submission: the JSON path of the field (<c>$</c> for the body itself) and what is wrong.</summary>
public sealed record ValidationError(string Field, string Problem)
{
    public override string ToString() => $"{Field}: {Problem}";
}
