import Foundation

/// The study cut into independent tasks for a batch scheduler: one task per run x seed, in study order with the
/// seeds of a run together (`Study.seeded`), numbered from 0. `vae-train sweep --task-index N` trains task N and
/// `vae-eval report --task-index N` evaluates it; `--list-tasks` prints this list. Each task writes only its own run
/// folder (`<out>/runs/<task name>`), so the tasks of one array can run in any order and at the same time.
///
///     0 vae_std_z20-s1
///     1 vae_std_z20-s2      (--seeds 2: index = run position x seeds + seed - 1)
///     2 vae_std_z20_res-s1
public struct StudyTasks: Equatable, Sendable {
    /// Environment variables read for the task index when `--task-index` is not given, first one set wins:
    /// Slurm job arrays, then Kubernetes indexed jobs. Both count from 0 in the way the templates submit them.
    public static let indexVariables = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]

    /// The runs of the tasks, index by index.
    public let runs: [Study.Run]

    /// The tasks of `study`'s runs named in `only` (all when nil), each with seeds `1...seeds` (the study file's
    /// seed when nil).
    public init(study: Study, only: [String]?, seeds: Int?) throws {
        runs = Study.seeded(try study.runs(only: only), seeds: seeds)
    }

    public var count: Int { runs.count }

    /// The run of task `index`; an index outside `0..<count` is an error that names the valid range.
    public func run(at index: Int) throws -> Study.Run {
        guard runs.indices.contains(index) else { throw StudyError.taskIndexOutOfRange(index: index, count: count) }
        return runs[index]
    }

    /// One line per task, `<index> <run folder name>`, what `--list-tasks` prints.
    public var listing: String { runs.enumerated().map { "\($0.offset) \($0.element.name)\n" }.joined() }

    /// The task index to run: `explicit` (`--task-index`) if given, else the first of `indexVariables` set (non-empty)
    /// in `environment`, else nil (no task: the whole study). A variable that is not a non-negative integer is an error.
    public static func index(explicit: Int?, environment: [String: String]) throws -> Int? {
        if let explicit { return explicit }
        for variable in indexVariables {
            guard let value = environment[variable]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { continue }
            guard let index = Int(value), index >= 0 else { throw StudyError.badTaskIndex(variable: variable, value: value) }
            return index
        }
        return nil
    }
}

extension StudySweep {
    /// One task of `vae-train sweep --task-index`: the sweep of `run` alone (skip, resume or train, then a vq_vae
    /// run's code prior). It writes only into the run's folder, under that folder's `RunFolderLock` (taken by the
    /// training job and the code-prior stage). A task killed or requeued resumes from its last checkpoint when it
    /// starts again, with the same bits as an uninterrupted run.
    public func runTask(_ run: Study.Run, log: (String) -> Void, progress: (String) -> (TrainingEvent) -> Void) throws {
        try self.run([run], log: log, progress: progress)
    }
}
