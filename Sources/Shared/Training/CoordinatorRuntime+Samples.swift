import Core
import Foundation
import Transport
import Wire

extension CoordinatorRuntime {
    /// Starts the sample server (`dataset.serve_port`, on `coordinator.bind`) on its own thread and
    /// socket, and returns it with what the run configuration announces to workers; nil with
    /// `dataset.serve_port: -1`.
    func startSampleServer() throws -> (server: ReplyServer, channel: Wire.SampleChannel)? {
        guard config.dataset.servePort >= 0 else { return nil }
        let clock = ContinuousClock()
        let started = clock.now
        let service = try SampleService.forRun(config)
        var settings = ReplyServer.Settings()
        settings.bytesPerSecondPerPeer = config.dataset.serveRateMiB * 1_048_576
        let port = config.dataset.servePort == 0 ? nil : UInt16(config.dataset.servePort)
        let server = try ReplyServer(bind: Endpoint(host: config.coordinator.bind, port: port),
                                     origin: "coordinator.bind and dataset.serve_port", settings: settings,
                                     security: security, refusals: loop.refusals,
                                     onRefused: CoordinatorRuntime.refusalLogger(logger),
                                     handler: { service.answer($0) })
        guard let bound = server.endpoint.split(separator: ":").last.flatMap({ UInt16($0) }) else {
            server.close()
            throw TrainingError(code: "samples.endpoint", "the sample server bound \(server.endpoint), which names no port")
        }
        logger.info("sample server on \(server.endpoint)", metadata: [
            "root": "\(service.root)", "indexed_files": "\(service.index.count)",
            "index_sha256": "\(service.indexHash.hexString.prefix(16))",
            "rate_mib_per_worker": "\(config.dataset.serveRateMiB)",
            "index_seconds": "\(String(format: "%.3f", started.duration(to: clock.now).inSeconds))",
        ])
        return (server, Wire.SampleChannel(port: bound, indexSha256: service.indexHash))
    }
}
