import Foundation
import Testing
@testable import Training

/// The task list of `vae-train sweep --task-index` and `vae-eval report --task-index` (one run x seed per task).
@Suite struct StudyTasksTests {
    static let study = try! Study.load(from: StudyTests.studyPath)

    /// Every run x seed appears exactly once, in study order with the seeds of a run together, and building the list
    /// again gives the same order (the index of a task must not depend on the machine or the moment).
    @Test func everyRunAndSeedOnceInStudyOrder() throws {
        let tasks = try StudyTasks(study: Self.study, only: nil, seeds: 3)
        #expect(tasks.count == Self.study.runs.count * 3)
        let expected = Self.study.runs.flatMap { run in (1...3).map { Study.seededName(run.name, seed: UInt64($0)) } }
        #expect(tasks.runs.map(\.name) == expected)
        #expect(Set(tasks.runs.map(\.name)).count == tasks.count)
        for (index, run) in tasks.runs.enumerated() {
            let position = Self.study.runs.firstIndex { $0.name == Study.splitSeededName(run.name).run }!
            #expect(index == position * 3 + Int(run.training.seed) - 1, "\(run.name)")
            #expect(run.model == Self.study.runs[position].model)
        }
        #expect(try StudyTasks(study: Self.study, only: nil, seeds: 3) == tasks)
        // --only keeps study order whatever order the names come in.
        let some = try StudyTasks(study: Self.study, only: ["wae", "vae_conv"], seeds: 2)
        #expect(some.runs.map(\.name) == ["vae_conv-s1", "vae_conv-s2", "wae-s1", "wae-s2"])
        // Without --seeds: one task per run, the study file's names and seeds.
        let plain = try StudyTasks(study: Self.study, only: nil, seeds: nil)
        #expect(plain.runs == Self.study.runs)
    }

    @Test func listingHasOneNumberedLinePerTask() throws {
        let tasks = try StudyTasks(study: Self.study, only: ["vae_std_z20", "gm_vae"], seeds: 2)
        #expect(tasks.listing == "0 vae_std_z20-s1\n1 vae_std_z20-s2\n2 gm_vae-s1\n3 gm_vae-s2\n")
    }

    @Test func indexOutOfRangeIsRefusedWithTheRange() throws {
        let tasks = try StudyTasks(study: Self.study, only: ["wae"], seeds: 3)
        #expect(try tasks.run(at: 2).name == "wae-s3")
        #expect(throws: StudyError.taskIndexOutOfRange(index: 3, count: 3)) { try tasks.run(at: 3) }
        #expect(throws: StudyError.taskIndexOutOfRange(index: -1, count: 3)) { try tasks.run(at: -1) }
        let message = StudyError.taskIndexOutOfRange(index: 3, count: 3).description
        #expect(message == "task index 3 is out of range: this study has 3 tasks (0...2); --list-tasks prints them")
        #expect(!message.contains("\n"))
    }

    /// `--task-index` wins; else SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX; else no task (the whole study).
    @Test func indexComesFromTheOptionThenTheEnvironment() throws {
        #expect(try StudyTasks.index(explicit: nil, environment: [:]) == nil)
        #expect(try StudyTasks.index(explicit: nil, environment: ["SLURM_ARRAY_TASK_ID": "7"]) == 7)
        #expect(try StudyTasks.index(explicit: nil, environment: ["JOB_COMPLETION_INDEX": "4"]) == 4)
        #expect(try StudyTasks.index(explicit: nil, environment: ["SLURM_ARRAY_TASK_ID": "2", "JOB_COMPLETION_INDEX": "4"]) == 2)
        #expect(try StudyTasks.index(explicit: 5, environment: ["SLURM_ARRAY_TASK_ID": "2"]) == 5)
        #expect(try StudyTasks.index(explicit: nil, environment: ["SLURM_ARRAY_TASK_ID": "", "JOB_COMPLETION_INDEX": "0"]) == 0)
        #expect(try StudyTasks.index(explicit: nil, environment: ["SLURM_ARRAY_JOB_ID": "12"]) == nil)
        for bad in ["x", "-1", "1.5", "3_4"] {
            #expect(throws: StudyError.badTaskIndex(variable: "SLURM_ARRAY_TASK_ID", value: bad)) {
                try StudyTasks.index(explicit: nil, environment: ["SLURM_ARRAY_TASK_ID": bad])
            }
        }
    }
}
