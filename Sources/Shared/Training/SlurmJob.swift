import Foundation

/// The Slurm batch job a coordinator runs in, as its environment describes it, and what
/// `scontrol show job --oneliner` says of it later.
///
/// Pure: the launcher (`coordinator slurm`) reads the environment and runs `scontrol`; this type
/// only checks and interprets what they gave, so that a malformed value is refused naming the
/// variable it came from.
public struct SlurmJob: Equatable, Sendable {
    /// `SLURM_JOB_ID`.
    public var id: String
    /// `SLURM_JOB_NODELIST`, still compressed (`node[1-4,7]`); `scontrol show hostnames` expands it.
    public var nodeList: String
    /// `SLURM_RESTART_COUNT`: how many times the job was requeued and started again; 0 when unset
    /// (Slurm sets it only from the first restart on).
    public var restartCount: Int

    public init(id: String, nodeList: String, restartCount: Int) {
        self.id = id
        self.nodeList = nodeList
        self.restartCount = restartCount
    }

    /// Reads the job from a batch step's environment.
    ///
    /// - Throws: `TrainingError` `slurm.environment` naming the variable that is missing or malformed.
    public init(environment: [String: String]) throws {
        guard let id = environment["SLURM_JOB_ID"], !id.isEmpty else {
            throw TrainingError(code: "slurm.environment",
                                "SLURM_JOB_ID is not set: `coordinator slurm` runs inside a Slurm batch job (submit it with sbatch; see deploy/slurm/grove.sbatch)")
        }
        guard id.allSatisfy(\.isASCII), id.allSatisfy({ $0.isNumber || $0 == "_" }) else {
            throw TrainingError(code: "slurm.environment", "SLURM_JOB_ID: '\(id)' is not a Slurm job id")
        }
        guard let nodeList = environment["SLURM_JOB_NODELIST"] ?? environment["SLURM_NODELIST"], !nodeList.isEmpty else {
            throw TrainingError(code: "slurm.environment", "SLURM_JOB_NODELIST is not set: no allocated node to start workers on")
        }
        var restarts = 0
        if let text = environment["SLURM_RESTART_COUNT"], !text.isEmpty {
            guard let count = Int(text), count >= 0 else {
                throw TrainingError(code: "slurm.environment", "SLURM_RESTART_COUNT: '\(text)' is not a count of restarts")
            }
            restarts = count
        }
        self.init(id: id, nodeList: nodeList, restartCount: restarts)
    }

    /// The node names `scontrol show hostnames` printed, one a line.
    ///
    /// - Throws: `TrainingError` `slurm.nodes` when there is none, or when a line is not a host name.
    public static func hostnames(fromScontrol output: String, nodeList: String) throws -> [String] {
        let names = output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else {
            throw TrainingError(code: "slurm.nodes", "`scontrol show hostnames \(nodeList)` named no node")
        }
        for name in names where !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) {
            throw TrainingError(code: "slurm.nodes", "`scontrol show hostnames \(nodeList)` gave '\(name)', which is not a node name")
        }
        return names
    }

    /// What `scontrol show job --oneliner ID` says of the job: its state and whether it may be
    /// requeued. Fields are `Key=Value` separated by spaces; values that hold spaces come only
    /// after the ones read here, which hold none.
    public struct Record: Equatable, Sendable {
        public var state: String
        public var requeueAllowed: Bool

        public init(state: String, requeueAllowed: Bool) {
            self.state = state
            self.requeueAllowed = requeueAllowed
        }

        /// - Throws: `TrainingError` `slurm.job-record` when `JobState` or `Requeue` is missing.
        public init(scontrolOneLiner line: String) throws {
            var fields: [Substring: Substring] = [:]
            for token in line.split(whereSeparator: \.isWhitespace) {
                guard let equals = token.firstIndex(of: "=") else { continue }
                let key = token[..<equals]
                if fields[key] == nil { fields[key] = token[token.index(after: equals)...] }
            }
            guard let state = fields["JobState"], let requeue = fields["Requeue"] else {
                throw TrainingError(code: "slurm.job-record",
                                    "`scontrol show job` gave no JobState or Requeue field: '\(line.prefix(200))'")
            }
            self.init(state: String(state), requeueAllowed: requeue == "1")
        }
    }

    /// Whether a coordinator that drained on a signal should requeue its own job, and why not.
    ///
    /// Only a job still RUNNING is requeued: the signal was then the time limit's warning
    /// (`--signal=B:TERM@N`) or an operator's `scancel --batch --signal=TERM`. A job that is
    /// already CANCELLED (`scancel`), COMPLETING or being requeued by Slurm itself (preemption,
    /// `scontrol requeue`) is left alone — `scontrol requeue` would bring back a cancelled job.
    public static func requeueDecision(_ record: Record) -> (requeue: Bool, reason: String) {
        guard record.state == "RUNNING" else {
            return (false, "the job is \(record.state), not RUNNING: Slurm ended or requeued it itself")
        }
        guard record.requeueAllowed else {
            return (false, "the job was submitted without --requeue: submit the same script again to continue")
        }
        return (true, "the job is RUNNING and may be requeued")
    }
}
