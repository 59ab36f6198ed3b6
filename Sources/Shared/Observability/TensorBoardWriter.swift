import Foundation

/// Writes scalars to a TensorBoard event file, `events.out.tfevents.<unix seconds>.<host>`, in
/// `directory` (created if missing). Point `tensorboard --logdir` at the directory.
///
/// Records are buffered in memory and written by `flush()`, or on their own once the buffer
/// passes `flushBytes`; a crash loses at most the unflushed records, and a torn last record is
/// skipped by readers because of its CRC. Thread-safe: the training loop and a status thread may
/// both write.
public final class TensorBoardWriter: @unchecked Sendable {
    /// The event file this writer appends to.
    public let path: String
    /// Buffered bytes above which `scalar` writes to the file without waiting for `flush()`.
    public let flushBytes: Int

    // Invariant: `handle` and `pending` are only touched with `lock` held; `handle` is nil once
    // the writer is closed.
    private let lock = NSLock()
    private var handle: FileHandle?
    private var pending: [UInt8] = []

    /// Creates the directory and the event file, and writes the file-version record.
    ///
    /// - Parameters:
    ///   - directory: the log directory (one per run; TensorBoard shows each as one run).
    ///   - host: the host name in the file name; defaults to this machine's.
    ///   - wallTime: seconds since 1970 of the header record and the file name.
    ///   - flushBytes: see `flushBytes`.
    public init(directory: String, host: String = ProcessInfo.processInfo.hostName,
                wallTime: Double = Date().timeIntervalSince1970, flushBytes: Int = 64 * 1024) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ObservabilityError(.io, "cannot create the TensorBoard log directory \(directory): \(error.localizedDescription)")
        }
        let safeHost = host.isEmpty ? "localhost" : host.replacingOccurrences(of: "/", with: "_")
        var name = "events.out.tfevents.\(Int64(wallTime)).\(safeHost)"
        // Two writers started in the same second would share a name; a suffix keeps both files.
        var suffix = 1
        while FileManager.default.fileExists(atPath: directory + "/" + name) {
            suffix += 1
            name = "events.out.tfevents.\(Int64(wallTime)).\(safeHost).\(suffix)"
        }
        path = directory + "/" + name
        self.flushBytes = flushBytes
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ObservabilityError(.io, "cannot create the TensorBoard event file \(path)")
        }
        self.handle = handle
        TFRecord.append(TensorBoardEvent.header(wallTime: wallTime), to: &pending)
        try flush()
    }

    deinit { try? handle?.close() }

    /// Records one scalar, e.g. `scalar(tag: "loss/train", value: 0.43, step: 40)`.
    ///
    /// - Parameters:
    ///   - tag: the chart name; slashes group charts in TensorBoard's UI.
    ///   - step: the x axis in TensorBoard (Grove passes the committed step).
    ///   - wallTime: seconds since 1970; TensorBoard's "relative" axis is measured from it.
    public func scalar(tag: String, value: Double, step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        try scalars([(tag, value)], step: step, wallTime: wallTime)
    }

    /// Records several scalars of one step in one event (one record instead of one per tag).
    public func scalars(_ values: [(tag: String, value: Double)], step: Int,
                        wallTime: Double = Date().timeIntervalSince1970) throws {
        let event = TensorBoardEvent.scalars(values.map { ($0.tag, Float($0.value)) }, step: Int64(step), wallTime: wallTime)
        let full: Bool = try lock.withLock {
            guard handle != nil else { throw ObservabilityError(.io, "the TensorBoard writer of \(path) is closed") }
            TFRecord.append(event, to: &pending)
            return pending.count >= flushBytes
        }
        if full { try flush() }
    }

    /// Writes buffered records to the file. Does not fsync: the page cache is enough for a
    /// viewer, and metrics.jsonl stays the durable record of a run.
    public func flush() throws {
        try lock.withLock {
            guard let handle, !pending.isEmpty else { return }
            do {
                try handle.write(contentsOf: pending)
            } catch {
                throw ObservabilityError(.io, "cannot write \(pending.count) bytes to \(path): \(error.localizedDescription)")
            }
            pending.removeAll(keepingCapacity: true)
        }
    }

    /// Flushes and closes the file; later `scalar` calls throw. Closing twice is harmless.
    public func close() throws {
        try flush()
        try lock.withLock {
            guard let handle else { return }
            self.handle = nil
            do { try handle.close() } catch {
                throw ObservabilityError(.io, "cannot close \(path): \(error.localizedDescription)")
            }
        }
    }
}
