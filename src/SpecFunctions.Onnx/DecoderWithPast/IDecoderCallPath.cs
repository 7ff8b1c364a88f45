namespace SpecFunctions.Onnx;

/// <summary>
/// How a sequence's calls reach ONNX Runtime: <see cref="RunCallPath"/> (plain <c>Run</c>, ONNX Runtime allocates the
/// outputs), <see cref="HostCallPath"/> (a host-resident cache, every output allocated beforehand) or
/// <see cref="BoundCallPath"/> (an IO binding that keeps the cache in device memory). The steps all three share (prepare
/// the cache, mask the new rows in, commit them) are <see cref="DecoderWithPastSequence"/>'s; a path does only what differs.
/// </summary>
internal interface IDecoderCallPath : IDisposable
{
    /// <summary>Closes the holes of <paramref name="cache"/> (called when <see cref="KvCache.Prepare"/> asks for it).</summary>
    void Compact(KvCache cache);

    /// <summary>
    /// Runs the graph on <paramref name="tokens"/> over <paramref name="cache"/>, whose mask covers <paramref name="total"/>
    /// rows, at positions from <paramref name="start"/>; replaces the cache tensors by the presents and writes the last
    /// <c>logits.Length / V</c> logit rows. A call that throws leaves the cache as it was.
    /// </summary>
    void Call(ReadOnlySpan<int> tokens, Span<float> logits, KvCache cache, int total, int start);
}
