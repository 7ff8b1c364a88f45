namespace SpecFunctions.Core.Sampling;

/// <summary>
/// SplitMix64: a small generator whose sequence is fixed by this code alone (unlike <see cref="Random"/>, whose
/// algorithm may change between runtimes), so a seed gives the same model everywhere. Used by both demo pairs'
/// trainers and by the shared mitigation loop (<see cref="Mitigation.Training.DrafterMitigation"/>).
/// </summary>
public sealed class DeterministicRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, n).</summary>
    public int NextInt(int n) => (int)((NextUInt64() >> 33) % (ulong)n);

    public double NextGaussian()
    {
        // Box–Muller; 1 - u keeps the log argument in (0, 1].
        var u1 = 1.0 - NextDouble();
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Index drawn with probability proportional to <paramref name="cumulative"/> increments (last = total).</summary>
    public int NextWeighted(IReadOnlyList<double> cumulative)
    {
        var x = NextDouble() * cumulative[^1];
        for (var i = 0; i < cumulative.Count; i++)
        {
            if (x < cumulative[i])
            {
                return i;
            }
        }

        return cumulative.Count - 1;
    }
}
