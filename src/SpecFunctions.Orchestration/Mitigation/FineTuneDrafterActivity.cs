using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Orchestration;

/// <summary>Fine-tunes the drafter in process and stores the new version content-addressed under <c>models/</c>.</summary>
public sealed class FineTuneDrafterActivity(ITraceStore store, ModelCache models, IEnumerable<IDrafterTrainer> trainers, ILogger<FineTuneDrafterActivity> logger)
    : TaskActivity<MitigationRequest, NewDrafter>
{
    public override async Task<NewDrafter> RunAsync(TaskActivityContext context, MitigationRequest request)
    {
        var before = await ReportPublisher.ReadAsync(store, request.RunId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"run '{request.RunId}' has no report to mitigate");
        var (drafter, drafterId) = models.Get(request.Evaluation.Drafter);
        var trainer = trainers.First(t => t.Supports(drafter.Manifest.Family));
        var prompts = PlanMitigationActivity.TrainingPrompts(request);
        // The trainers choose from data (D_T re-estimates, task weights, τ) on the dev split of the training prompts,
        // never on the evaluation prompts, which only judge the result.
        var tasks = before.Tasks.Select(t =>
        {
            var (train, dev) = MitigationData.DevSplit(prompts[t.TaskId]);
            return new MitigationTask(t.TaskId, t.CrossEntropy, train, dev);
        }).ToList();
        var job = new DrafterTrainingJob
        {
            VerifierFolder = models.GetFolder(request.Evaluation.Verifier),
            DrafterFolder = models.GetFolder(request.Evaluation.Drafter),
            Strategy = request.Strategy,
            WeightRule = request.WeightRule,
            Tasks = tasks,
            Seed = request.Seed,
            Temperature = request.Evaluation.Settings.Temperature,
        };

        // Train into a scratch folder; the stored version is content-addressed and immutable, so a crash or a retry
        // can never corrupt it — a repeated run produces (or finds) the same version.
        var scratch = Directory.CreateTempSubdirectory("specfn-drafter-").FullName;
        try
        {
            var folder = await trainer.TrainAsync(job, scratch, new Progress<string>(m => logger.TrainerProgress(request.RunId, m)), CancellationToken.None).ConfigureAwait(false);
            var corrective = Path.Combine(scratch, DrafterTrainerFiles.CorrectiveData);
            if (File.Exists(corrective))
            {
                await store.WriteArtifactAsync(request.RunId, RunArtifact.CorrectiveData, async (stream, ct) =>
                {
                    await using var source = File.OpenRead(corrective);
                    await source.CopyToAsync(stream, ct).ConfigureAwait(false);
                }).ConfigureAwait(false);
            }

            var identity = await store.PutModelAsync(drafterId.Name, folder).ConfigureAwait(false);
            identity = identity with { Family = drafter.Manifest.Family };
            var reference = models.AdoptVersion(identity, folder);
            return new NewDrafter { Reference = reference, Identity = identity, Notes = $"{request.Strategy} with {request.WeightRule}" };
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
