namespace SpecFunctions.Core.Evaluation;

/// <summary>
/// The problems found in one input, capped at <see cref="EvaluationRequestParser.MaxErrors"/> (the rest are counted
/// in one last error), so a hostile body cannot produce a huge answer.
/// </summary>
internal sealed class ErrorList
{
    private readonly List<ValidationError> _items = [];
    private int _dropped;

    public int Count => _items.Count + _dropped;

    public IReadOnlyList<ValidationError> Items => _dropped == 0
        ? _items
        : [.. _items, new ValidationError("$", $"{_dropped} more errors not shown")];

    public void Add(string field, string problem)
    {
        if (_items.Count < EvaluationRequestParser.MaxErrors)
        {
            _items.Add(new ValidationError(field.Length == 0 ? "$" : field, problem));
        }
        else
        {
            _dropped++;
        }
    }
}
