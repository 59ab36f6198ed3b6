import Foundation
import Testing
@testable import Training

@Suite struct SlurmJobTests {
    @Test func aBatchEnvironmentGivesTheJobItsNodesAndItsRestarts() throws {
        let first = try SlurmJob(environment: ["SLURM_JOB_ID": "4211", "SLURM_JOB_NODELIST": "node[1-2]"])
        #expect(first == SlurmJob(id: "4211", nodeList: "node[1-2]", restartCount: 0))
        let again = try SlurmJob(environment: ["SLURM_JOB_ID": "4211", "SLURM_JOB_NODELIST": "node1", "SLURM_RESTART_COUNT": "3"])
        #expect(again.restartCount == 3)
        // Older Slurm names the list SLURM_NODELIST only.
        #expect(try SlurmJob(environment: ["SLURM_JOB_ID": "7", "SLURM_NODELIST": "a,b"]).nodeList == "a,b")
    }

    @Test func aMissingOrMalformedVariableIsNamed() {
        let cases: [([String: String], String)] = [
            ([:], "SLURM_JOB_ID is not set"),
            (["SLURM_JOB_ID": "12; rm", "SLURM_JOB_NODELIST": "n1"], "SLURM_JOB_ID: '12; rm'"),
            (["SLURM_JOB_ID": "12"], "SLURM_JOB_NODELIST is not set"),
            (["SLURM_JOB_ID": "12", "SLURM_JOB_NODELIST": "n1", "SLURM_RESTART_COUNT": "two"], "SLURM_RESTART_COUNT: 'two'"),
            (["SLURM_JOB_ID": "12", "SLURM_JOB_NODELIST": "n1", "SLURM_RESTART_COUNT": "-1"], "SLURM_RESTART_COUNT: '-1'"),
        ]
        for (environment, expected) in cases {
            do {
                _ = try SlurmJob(environment: environment)
                Issue.record("accepted \(environment)")
            } catch let error as TrainingError {
                #expect(error.code == "slurm.environment")
                #expect(error.message.contains(expected), "\(error.message)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func hostnamesAreOneALineAndCheckedAsNames() throws {
        #expect(try SlurmJob.hostnames(fromScontrol: "node1\nnode2\n\n", nodeList: "node[1-2]") == ["node1", "node2"])
        #expect(throws: TrainingError.self) { try SlurmJob.hostnames(fromScontrol: "\n", nodeList: "node[1-2]") }
        do {
            _ = try SlurmJob.hostnames(fromScontrol: "node1\nscontrol: error: bad\n", nodeList: "x")
            Issue.record("accepted an error line as a host name")
        } catch let error as TrainingError {
            #expect(error.message.contains("'scontrol: error: bad'"), "\(error.message)")
        }
    }

    /// A line as Slurm 22.05's `scontrol show job --oneliner` prints it (shortened).
    let running = "JobId=3 JobName=grove UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901757 Nice=0 "
        + "Account=(null) QOS=(null) JobState=RUNNING Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 "
        + "Reboot=0 ExitCode=0:0 RunTime=00:00:12 TimeLimit=UNLIMITED Command=/tmp/a b/grove.sbatch WorkDir=/tmp/a b"

    @Test func onlyARunningRequeueableJobRequeuesItself() throws {
        let record = try SlurmJob.Record(scontrolOneLiner: running)
        #expect(record == SlurmJob.Record(state: "RUNNING", requeueAllowed: true))
        #expect(SlurmJob.requeueDecision(record).requeue)

        // scancel marks the job CANCELLED before it signals; a requeue would bring it back.
        let cancelled = try SlurmJob.Record(scontrolOneLiner: running.replacingOccurrences(of: "JobState=RUNNING", with: "JobState=CANCELLED"))
        let no = SlurmJob.requeueDecision(cancelled)
        #expect(!no.requeue)
        #expect(no.reason.contains("CANCELLED"))

        let fixed = try SlurmJob.Record(scontrolOneLiner: running.replacingOccurrences(of: "Requeue=1", with: "Requeue=0"))
        let notAllowed = SlurmJob.requeueDecision(fixed)
        #expect(!notAllowed.requeue)
        #expect(notAllowed.reason.contains("--requeue"))
    }

    @Test func aRecordWithoutStateOrRequeueIsRefused() {
        do {
            _ = try SlurmJob.Record(scontrolOneLiner: "slurm_load_jobs error: Invalid job id specified")
            Issue.record("accepted an error message as a job record")
        } catch let error as TrainingError {
            #expect(error.code == "slurm.job-record")
            #expect(error.message.contains("Invalid job id"), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func eachWorkerStepIsOneTaskOnOneNodeThatSurvivesTheOthers() {
        let arguments = SlurmSteps.srunArguments(node: "gpu07", extra: ["--cpus-per-task=8"])
        #expect(arguments.contains("--nodelist=gpu07"))
        #expect(arguments.contains("--nodes=1") && arguments.contains("--ntasks=1"))
        #expect(arguments.contains("--no-kill"))
        #expect(arguments.last == "--cpus-per-task=8")
    }

    @Test func commandsAreFoundOnPathOrNamedWithThePath() throws {
        #expect(try SlurmSteps.executable("sh", path: "/nonexistent:/bin:/usr/bin").hasSuffix("/sh"))
        do {
            _ = try SlurmSteps.executable("srun", path: "/nonexistent")
            Issue.record("found srun in an empty directory")
        } catch let error as TrainingError {
            #expect(error.message.contains("srun is not on PATH (/nonexistent)"), "\(error.message)")
        }
    }
}
