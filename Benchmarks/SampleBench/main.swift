// sample-bench: fetch throughput of the sample channel over loopback, against reading the same
// files from local disk in the same invocation. Results are printed, never asserted.
//
//   sample-bench MANIFEST [--runs N] [--threads T]
//
// Each run reads every sample file of MANIFEST three ways, T threads at a time: from the local
// catalog (LocalDirectorySource, the page cache warm after the first run); through the sample
// server with an empty cache (fetch, decode to verify the content hash, store); and through the
// server again with that cache warm (read and hash the cached file). Medians over the runs.

import Config
import Core
import Dataset
import Foundation
import Training
import Transport

func bench() throws {
    var arguments = Array(CommandLine.arguments.dropFirst())
    func option(_ name: String, _ fallback: Int) -> Int {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { return fallback }
        arguments.removeSubrange(index...index + 1)
        return value
    }
    let runs = option("--runs", 5), threads = option("--threads", 2)
    guard let manifestPath = arguments.first else {
        print("usage: sample-bench MANIFEST [--runs N] [--threads T]")
        exit(2)
    }


    var config = ClusterConfig()
    config.dataset.manifest = manifestPath
    let entries = try Manifest.load(manifestPath).entries
    let root = Manifest.catalogDirectory(ofManifestAt: manifestPath)
    let service = try SampleService.forRun(config)
    var settings = ReplyServer.Settings()
    settings.bytesPerSecondPerPeer = 1e12  // unlimited: the channel itself is measured
    let server = try ReplyServer(bind: try Endpoint(host: "127.0.0.1", port: nil), origin: "sample-bench", settings: settings) { service.answer($0) }
    defer { server.close() }
    let endpoint = try Endpoint.parse(server.endpoint, origin: "sample-bench")

    /// Reads every entry with `threads` threads; returns seconds and bytes.
    func readAll(_ source: any SampleSource) throws -> (seconds: Double, bytes: Int) {
        let bytes = Locked(0), failure = Locked<String?>(nil)
        let start = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            var mine = 0
            for index in stride(from: worker, to: entries.count, by: threads) {
                do { mine += try source.read(path: entries[index].path).count } catch { failure.value = "\(error)" }
            }
            bytes.update { $0 += mine }
        }
        if let failure = failure.value { throw TrainingError(code: "bench.read", failure) }
        return (start.duration(to: .now).inSeconds, bytes.value)
    }

    /// Local reads that also decode each file to check its content hash: what a cold fetch verifies.
    struct Verifying: SampleSource {
        let inner: LocalDirectorySource
        func read(path: String) throws(DatasetError) -> [UInt8] {
            let bytes = try inner.read(path: path)
            _ = try SampleFile.decodeWithContentHash(bytes, origin: path)
            return bytes
        }
    }
    var local: [Double] = [], verified: [Double] = [], cold: [Double] = [], warm: [Double] = []
    var totalBytes = 0
    for _ in 0..<runs {
        let l = try readAll(LocalDirectorySource(root: root))
        totalBytes = l.bytes
        verified.append(try readAll(Verifying(inner: LocalDirectorySource(root: root))).seconds)
        let cacheDirectory = NSTemporaryDirectory() + "sample-bench-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: cacheDirectory) }
        func remote() throws -> RemoteDataset {
            let dataset = try RemoteDataset(server: endpoint, indexHash: service.indexHash,
                                            cache: try SampleCache(directory: cacheDirectory, maxBytes: 1 << 34))
            dataset.register(entries)
            return dataset
        }
        let first = try remote()
        let c = try readAll(first)
        first.close()
        let second = try remote()
        let w = try readAll(second)
        precondition(second.statistics.fetched == 0, "the warm pass fetched")
        second.close()
        local.append(l.seconds); cold.append(c.seconds); warm.append(w.seconds)
    }

    func median(_ values: [Double]) -> Double { let s = values.sorted(); return s[s.count / 2] }
    var system = utsname()
    uname(&system)
    let machine = withUnsafeBytes(of: system.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    print("sample-bench: \(entries.count) sample files, \(totalBytes) bytes (\(totalBytes / max(1, entries.count)) per file), \(threads) reading threads, median of \(runs) runs")
    var loads = [Double](repeating: 0, count: 1)
    _ = getloadavg(&loads, 1)
    print("machine: \(machine), \(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(String(format: "%.2f", loads[0]))")
    let reference = median(local)
    for (name, times) in [("local disk (LocalDirectorySource)", local), ("local disk + content verification (decode)", verified),
                          ("sample channel, cold cache (fetch + verify + store)", cold),
                          ("sample channel, warm cache (read + hash)", warm)] {
        let m = median(times)
        print(name.padding(toLength: 52, withPad: " ", startingAt: 0)
              + String(format: " %8.0f samples/s %8.1f MB/s  %6.2fx local time", Double(entries.count) / m, Double(totalBytes) / m / 1e6, m / reference))
    }
}

do { try bench() } catch {
    print("sample-bench: \(error)")
    exit(1)
}
