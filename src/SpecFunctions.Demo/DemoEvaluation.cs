using System.Text;

namespace SpecFunctions.Demo;

/// <summary>Drafter–verifier agreement over a set of prefixes (natural logs; temperature 1 unless stated).</summary>
/// <param name="MeanAlpha">Mean of α(s) = Σ_x min(p, q): the expected acceptance probability of one draft token.</param>
/// <param name="MeanCrossEntropy">Mean of −Σ_x p log q (nats): the paper's D_T.</param>
/// <param name="MeanKl">Mean of KL(p‖q) (nats).</param>
/// <param name="Prefixes">Number of prefixes averaged over.</param>
public sealed record DemoAgreement(double MeanAlpha, double MeanCrossEntropy, double MeanKl, int Prefixes);

/// <summary>Compares a verifier and a drafter on text prefixes with the reference forward pass.</summary>
public static class DemoEvaluation
{
    /// <summary>
    /// Agreement over every prefix of every prompt: for a prompt of n bytes, the n next-byte distributions after its
    /// first 1..n bytes (each prompt starts a text, so positions before it are pad).
    /// </summary>
    public static DemoAgreement Compare(DemoModel verifier, DemoModel drafter, IEnumerable<string> prompts, double temperature = 1.0)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(drafter);
        ArgumentNullException.ThrowIfNull(prompts);
        if (!(temperature > 0) || !double.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "Temperature must be positive and finite.");
        }

        const int v = DemoModelConfig.VocabularySize;
        double alpha = 0, crossEntropy = 0, kl = 0;
        var count = 0;
        var p = new double[v];
        var q = new double[v];
        foreach (var prompt in prompts)
        {
            var bytes = Encoding.UTF8.GetBytes(prompt);
            var pLogits = verifier.ForwardAll(bytes);
            var qLogits = drafter.ForwardAll(bytes);
            for (var t = 0; t < bytes.Length; t++)
            {
                LogSoftmax(pLogits.AsSpan(t * v, v), temperature, p);
                LogSoftmax(qLogits.AsSpan(t * v, v), temperature, q);
                double a = 0, ce = 0, entropy = 0;
                for (var x = 0; x < v; x++)
                {
                    var px = Math.Exp(p[x]);
                    a += Math.Min(px, Math.Exp(q[x]));
                    ce -= px * q[x];
                    entropy -= px * p[x];
                }

                alpha += a;
                crossEntropy += ce;
                kl += ce - entropy;
                count++;
            }
        }

        return count == 0
            ? throw new ArgumentException("No prefixes to compare: the prompts are empty.", nameof(prompts))
            : new DemoAgreement(alpha / count, crossEntropy / count, kl / count, count);
    }

    /// <summary>Log-softmax of <paramref name="logits"/> / temperature in double precision.</summary>
    internal static void LogSoftmax(ReadOnlySpan<float> logits, double temperature, Span<double> result)
    {
        var max = double.NegativeInfinity;
        foreach (var l in logits)
        {
            max = Math.Max(max, l / temperature);
        }

        double sum = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            result[i] = logits[i] / temperature - max;
            sum += Math.Exp(result[i]);
        }

        var logSum = Math.Log(sum);
        for (var i = 0; i < logits.Length; i++)
        {
            result[i] -= logSum;
        }
    }
}
