import Core
@testable import Wire

/// One representative message of every kind, with the envelope used by the golden tests.
enum WireSamples {
    static let generation = Generation(3)
    static let sender = WorkerID(2)
    static let incarnation = Incarnation(0x0102_0304_0506_0708)

    static let messages: [Wire.Message] = [
        .hello(Wire.Hello()),
        .runConfig(Wire.RunConfig(runName: "r", configYAML: "a: 1")),
        .join(Wire.Join(schemaHash: 0xAABB, ringEndpoint: "tcp://h:9", host: "h", pid: 77)),
        .welcome(Wire.Welcome(worker: WorkerID(5), heartbeatIntervalMillis: 1000)),
        .reject(Wire.Reject(reason: .modelSchema, text: "no")),
        .heartbeat(Wire.Heartbeat(committedStep: 9)),
        .lease(Wire.Lease(step: 4, ring: [Wire.Member(worker: WorkerID(1), ringEndpoint: "e")],
                          microBatches: [Wire.MicroBatch(id: MicroBatchID(1), samples: [7, 8])],
                          totalMicroBatches: 2, globalBatch: 4, wantState: true)),
        .state(Wire.State(step: 6, tensors: [Wire.Tensor(name: "w", values: [1.0])])),
        .stepResult(Wire.StepResult(step: 4, losses: [Wire.SampleLoss(sample: 7, loss: 0.5)], weightsHash: [0xAB],
                                    dataNanos: 1, computeNanos: 2, reduceNanos: 3, reduceBytes: 4, state: nil)),
        .commit(Wire.Commit(step: 4)),
        .leave(Wire.Leave(reason: .drain, text: "bye")),
        .stepFailed(Wire.StepFailed(code: "c", step: 4, text: "t", suspect: WorkerID(1), framesFromSuspect: 2)),
        .stateRequest(Wire.StateRequest(step: 6)),
        .indexRequest(Wire.IndexRequest(request: 9)),
        .sampleIndex(Wire.SampleIndex(request: 9, files: [Wire.IndexedFile(path: "t.csv", size: 3, sha256: [0xAB, 0xCD])])),
        .sampleRequest(Wire.SampleRequest(request: 10, path: "a/b")),
        .sampleData(Wire.SampleData(request: 10, bytes: [1, 2, 3])),
        .sampleRefused(Wire.SampleRefused(request: 11, reason: .notInRun, text: "no")),
        .stateGrant(Wire.StateGrant(step: 6, token: [0xC1, 0xC2])),
        .stateSource(Wire.StateSource(step: 6, weightsHash: [0xAB], token: [0xC1],
                                      sources: [Wire.Member(worker: WorkerID(1), ringEndpoint: "s")])),
        .stateFetch(Wire.StateFetch(step: 6, token: [0xC1], offset: 8, length: 4)),
        .stateChunk(Wire.StateChunk(step: 6, totalBytes: 12, stateHash: [0xEE], offset: 8, data: [1, 2, 3, 4])),
        .stateRefused(Wire.StateRefused(reason: .staleStep, heldStep: 7, text: "old")),
        .ringKeys(Wire.RingKeys(members: [Wire.RingKeys.Entry(worker: WorkerID(5), key: Array(0..<32))])),
    ]

    static func encode(_ message: Wire.Message) -> [UInt8] {
        Wire.encode(message, generation: generation, sender: sender, incarnation: incarnation)
    }
}
