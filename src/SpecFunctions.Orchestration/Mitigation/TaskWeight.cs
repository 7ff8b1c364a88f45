
namespace SpecFunctions.Orchestration;

public sealed record TaskWeight(double CrossEntropy, double Weight);
