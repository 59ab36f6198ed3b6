import Core
import Foundation
import Glibc

/// Dataset files a worker fetched, kept on its local disk so that the next step and the next run
/// do not fetch them again: content-addressed, bounded in bytes, least recently used out first.
///
/// An entry is stored under its **key** — the SHA-256 its caller verified the file against (a
/// manifest entry's content hash, or the SHA-256 of a tile directory's file) — and the SHA-256 of
/// its bytes: `<directory>/<key[0..2]>/<key>-<sha256 of the bytes>`. A lookup re-hashes the bytes
/// it reads (0.2 ms for a 43 KB sample file) and throws away an entry that does not match, so a
/// damaged disk costs a fetch, never a wrong sample. Files are written under a temporary name and
/// renamed, so several processes may share one directory; each keeps its own account of the bytes
/// held (from a scan when it opens the cache), so together they may exceed the limit until one of
/// them evicts.
///
/// Thread-safe: a lock guards the index; file reads and hashing happen outside it.
public final class SampleCache: @unchecked Sendable {
    public let directory: String
    /// The most bytes the cache holds; an eviction brings it down to 90 % of this.
    public let maxBytes: Int

    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var stored = 0
        public var evicted = 0
        /// Entries whose bytes no longer hashed to their name, removed.
        public var damaged = 0
        public var entries = 0
        public var bytes = 0
    }

    private struct Entry {
        var name: String
        var size: Int
        var lastUse: Double
    }

    // Invariant: `index`, `total` and `counters` are only touched with `lock` held.
    private let lock = NSLock()
    private var index: [String: Entry] = [:]
    private var total = 0
    private var counters = Statistics()

    /// Opens (creating it if needed) the cache at `directory` and accounts for what it holds.
    ///
    /// - Throws: `DatasetError` `cache.unusable` naming the directory when it cannot be created.
    public init(directory: String, maxBytes: Int) throws(DatasetError) {
        precondition(maxBytes > 0, "a cache holds at least one byte")
        self.directory = directory
        self.maxBytes = maxBytes
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DatasetError(code: "cache.unusable", "cannot create the sample cache directory \(directory): \(error.localizedDescription)")
        }
        guard access(directory, W_OK) == 0 else {
            throw DatasetError(code: "cache.unusable", "the sample cache directory \(directory) is not writable")
        }
        scan()
    }

    /// Whether `key` can name an entry: 64 lower-case hex digits. Keys come from manifests and
    /// indexes a peer sent, and become file names.
    public static func isValidKey(_ key: String) -> Bool {
        key.utf8.count == 64 && key.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The bytes stored under `key`, or nil (not held, or damaged and now removed).
    public func lookup(_ key: String) -> [UInt8]? {
        guard Self.isValidKey(key), let entry = lock.withLock({ index[key] }) else {
            lock.withLock { counters.misses += 1 }
            return nil
        }
        let relative = String(key.prefix(2)) + "/" + entry.name
        guard let bytes = try? LocalDirectorySource(root: directory).read(path: relative) else {
            // Evicted by another process that shares the directory.
            forget(key, removing: nil, damaged: false)
            return nil
        }
        guard entry.name.hasSuffix("-" + SHA256.hex(bytes)) else {
            forget(key, removing: relative, damaged: true)
            return nil
        }
        let now = Date().timeIntervalSince1970
        lock.withLock {
            index[key]?.lastUse = now
            counters.hits += 1
        }
        // The next process's scan orders entries by modification time.
        _ = utimensat(AT_FDCWD, directory + "/" + relative, nil, 0)
        return bytes
    }

    /// Stores `bytes` under `key` (the caller has verified them against it). A file larger than
    /// the whole cache is not stored. Failures to write are not errors: the cache is only a cache.
    public func store(_ key: String, bytes: [UInt8]) {
        guard Self.isValidKey(key), bytes.count <= maxBytes else { return }
        let name = key + "-" + SHA256.hex(bytes)
        let folder = directory + "/" + String(key.prefix(2))
        let temporary = folder + "/.tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            return
        }
        guard rename(temporary, folder + "/" + name) == 0 else {
            unlink(temporary)
            return
        }
        let victims: [(key: String, name: String)] = lock.withLock {
            if let old = index[key] {
                total -= old.size
                if old.name != name { unlink(folder + "/" + old.name) }
            }
            index[key] = Entry(name: name, size: bytes.count, lastUse: Date().timeIntervalSince1970)
            total += bytes.count
            counters.stored += 1
            return evictIfNeeded(keeping: key)
        }
        for victim in victims { unlink(directory + "/" + String(victim.key.prefix(2)) + "/" + victim.name) }
    }

    public var statistics: Statistics {
        lock.withLock {
            var s = counters
            s.entries = index.count
            s.bytes = total
            return s
        }
    }

    // MARK: Internals

    /// Removes least recently used entries from the index until 90 % of the limit is left;
    /// returns them for the caller to unlink outside the lock. Lock held.
    private func evictIfNeeded(keeping key: String) -> [(key: String, name: String)] {
        guard total > maxBytes else { return [] }
        let target = maxBytes / 10 * 9
        var victims: [(key: String, name: String)] = []
        for (victimKey, entry) in index.sorted(by: { $0.value.lastUse < $1.value.lastUse }) where victimKey != key {
            guard total > target else { break }
            index[victimKey] = nil
            total -= entry.size
            counters.evicted += 1
            victims.append((victimKey, entry.name))
        }
        return victims
    }

    private func forget(_ key: String, removing relative: String?, damaged: Bool) {
        lock.withLock {
            if let entry = index.removeValue(forKey: key) { total -= entry.size }
            counters.misses += 1
            if damaged { counters.damaged += 1 }
        }
        if let relative { unlink(directory + "/" + relative) }
    }

    /// Builds the index from the files present; leftovers of interrupted writes are removed.
    private func scan() {
        let manager = FileManager.default
        guard let folders = try? manager.contentsOfDirectory(atPath: directory) else { return }
        for folder in folders where folder.utf8.count == 2 {
            let path = directory + "/" + folder
            guard let names = try? manager.contentsOfDirectory(atPath: path) else { continue }
            for name in names {
                let full = path + "/" + name
                if name.hasPrefix(".tmp-") {
                    // Another process may be writing it right now: only old ones are leftovers.
                    if let age = (try? manager.attributesOfItem(atPath: full))?[.modificationDate] as? Date,
                       age.timeIntervalSinceNow < -3600 { unlink(full) }
                    continue
                }
                let parts = name.split(separator: "-")
                guard parts.count == 2, Self.isValidKey(String(parts[0])), Self.isValidKey(String(parts[1])),
                      parts[0].hasPrefix(folder), let attributes = try? manager.attributesOfItem(atPath: full),
                      let size = (attributes[.size] as? NSNumber)?.intValue else { continue }
                let used = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                let key = String(parts[0])
                if let other = index[key] {
                    // Two copies of one key (the same file under two byte hashes): keep the newer.
                    guard used > other.lastUse else { unlink(full); continue }
                    unlink(path + "/" + other.name)
                    total -= other.size
                }
                index[key] = Entry(name: name, size: size, lastUse: used)
                total += size
            }
        }
        _ = evictIfNeeded(keeping: "").map { unlink(directory + "/" + String($0.key.prefix(2)) + "/" + $0.name) }
    }
}
