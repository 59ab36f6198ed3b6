import Core
@testable import Dataset
import Foundation
import Testing

/// The worker's local store of fetched files: content-addressed, bounded, verified on read.
@Suite struct SampleCacheTests {
    static func file(_ seed: UInt8, size: Int = 1000) -> (key: String, bytes: [UInt8]) {
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) &+ seed }
        return (SHA256.hex(bytes), bytes)
    }

    @Test func storedFilesComeBackAndCount() throws {
        let cache = try SampleCache(directory: Fixtures.scratchDirectory(), maxBytes: 1 << 20)
        let a = Self.file(1)
        #expect(cache.lookup(a.key) == nil)
        cache.store(a.key, bytes: a.bytes)
        #expect(cache.lookup(a.key) == a.bytes)
        let s = cache.statistics
        #expect(s.hits == 1 && s.misses == 1 && s.stored == 1 && s.entries == 1 && s.bytes == 1000)
    }

    @Test func aNewProcessReusesWhatAnEarlierOneStored() throws {
        let directory = Fixtures.scratchDirectory()
        let files = (1...5).map { Self.file($0) }
        do {
            let first = try SampleCache(directory: directory, maxBytes: 1 << 20)
            for f in files { first.store(f.key, bytes: f.bytes) }
        }
        let second = try SampleCache(directory: directory, maxBytes: 1 << 20)
        #expect(second.statistics.entries == 5 && second.statistics.bytes == 5000)
        for f in files { #expect(second.lookup(f.key) == f.bytes) }
        #expect(second.statistics.hits == 5 && second.statistics.misses == 0)
    }

    @Test func theLeastRecentlyUsedGoFirstDownToNinetyPercent() throws {
        let cache = try SampleCache(directory: Fixtures.scratchDirectory(), maxBytes: 4500)
        let files = (1...4).map { Self.file($0) }
        for f in files { cache.store(f.key, bytes: f.bytes) }
        // Use the oldest again: the second is now the least recently used.
        Thread.sleep(forTimeInterval: 0.01)
        #expect(cache.lookup(files[0].key) != nil)
        let fifth = Self.file(5)
        cache.store(fifth.key, bytes: fifth.bytes)  // 5000 > 4500: down to 4050 at most
        var s = cache.statistics
        #expect(s.bytes == 4000 && s.evicted == 1, "\(s)")
        #expect(cache.lookup(files[1].key) == nil, "least recently used")
        #expect(cache.lookup(files[0].key) == files[0].bytes, "used recently, kept")
        #expect(cache.lookup(files[2].key) == files[2].bytes)
        #expect(cache.lookup(fifth.key) == fifth.bytes, "just stored, kept")
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: cache.directory).filter { $0.contains("-") }
        #expect(onDisk.count == 4, "evicted files are deleted: \(onDisk)")
        // Two more over the limit: files[3] and then files[0] (the oldest uses) go.
        for seed: UInt8 in [6, 7] { let f = Self.file(seed); cache.store(f.key, bytes: f.bytes) }
        s = cache.statistics
        #expect(s.bytes <= 4050 && s.evicted == 3 && cache.lookup(files[3].key) == nil, "\(s)")
    }

    @Test func aDamagedEntryIsDroppedNotReturned() throws {
        let cache = try SampleCache(directory: Fixtures.scratchDirectory(), maxBytes: 1 << 20)
        let a = Self.file(9)
        cache.store(a.key, bytes: a.bytes)
        let relative = try #require(FileManager.default.subpathsOfDirectory(atPath: cache.directory).first { $0.contains(a.key + "-") })
        var damaged = a.bytes
        damaged[500] ^= 0xFF
        try Data(damaged).write(to: URL(fileURLWithPath: cache.directory + "/" + relative))
        #expect(cache.lookup(a.key) == nil)
        #expect(cache.statistics.damaged == 1 && cache.statistics.entries == 0)
        #expect(!FileManager.default.fileExists(atPath: cache.directory + "/" + relative), "removed")
    }

    @Test func keysThatAreNotHashesNeverBecomePaths() throws {
        let directory = Fixtures.scratchDirectory()
        let cache = try SampleCache(directory: directory, maxBytes: 1 << 20)
        for key in ["../../etc/passwd", String(repeating: "A", count: 64), String(repeating: "0", count: 63), "/" + String(repeating: "0", count: 63)] {
            cache.store(key, bytes: [1, 2, 3])
            #expect(cache.lookup(key) == nil)
        }
        #expect(try FileManager.default.subpathsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func aFileLargerThanTheCacheIsNotStored() throws {
        let cache = try SampleCache(directory: Fixtures.scratchDirectory(), maxBytes: 100)
        let big = Self.file(1, size: 101)
        cache.store(big.key, bytes: big.bytes)
        #expect(cache.statistics.entries == 0 && cache.lookup(big.key) == nil)
    }

    @Test func anUnwritableDirectoryIsNamed() {
        do {
            _ = try SampleCache(directory: "/proc/grove-cache", maxBytes: 100)
            Issue.record("a cache under /proc was accepted")
        } catch {
            #expect(error.code == "cache.unusable" && error.message.contains("/proc/grove-cache"), "\(error.message)")
        }
    }
}
