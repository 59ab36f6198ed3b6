/// Vector sizes as the command line writes them (`4KiB`, `100MiB`, `4KiB..256MiB`) and as the
/// report prints them. Units are binary; a size must be a positive multiple of 4 bytes, because
/// the vectors are float32.
enum ByteSize {
    private static let units: [(suffix: String, bytes: Int)] = [
        ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1),
    ]

    /// `4B, 8B, ...` from `low` to `high`, doubling, as nccl-tests' `-b low -e high -f 2`.
    static func doubling(from low: Int, to high: Int) -> [Int] {
        var sizes: [Int] = []
        var size = low
        while size <= high {
            sizes.append(size)
            size *= 2
        }
        return sizes
    }

    /// A doubling range `A..B` or a comma-separated list of sizes.
    static func parseList(_ text: String) throws(PerfError) -> [Int] {
        let bounds = text.split(separator: "..", omittingEmptySubsequences: false)
        if bounds.count == 2 {
            let low = try parse(String(bounds[0]))
            let high = try parse(String(bounds[1]))
            guard low <= high else { throw PerfError(code: "perf.usage", "--sizes \(text): \(bounds[0]) is larger than \(bounds[1])") }
            return doubling(from: low, to: high)
        }
        var sizes: [Int] = []
        for part in text.split(separator: ",") { sizes.append(try parse(String(part))) }
        guard !sizes.isEmpty else { throw PerfError(code: "perf.usage", "--sizes is empty") }
        return sizes
    }

    /// One size with an optional unit; a bare number is bytes.
    static func parse(_ text: String) throws(PerfError) -> Int {
        var number = Substring(text)
        var unit = 1
        for (suffix, bytes) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            unit = bytes
            break
        }
        guard let value = Double(number), value > 0 else {
            throw PerfError(code: "perf.usage", "size \(text) is not a positive number with an optional unit (B, KiB, MiB, GiB)")
        }
        return try checked(Int(value * Double(unit)), from: text)
    }

    /// One size in MiB, possibly fractional (`allreduce_peers.py` writes `16`, `100`, `0.5`).
    static func parseMebibytes(_ text: String) throws(PerfError) -> [Int] {
        var sizes: [Int] = []
        for part in text.split(separator: " ") {
            guard let value = Double(part), value > 0 else {
                throw PerfError(code: "perf.usage", "--sizes-mib \(part) is not a positive number of MiB")
            }
            sizes.append(try checked(Int(value * Double(1 << 20)), from: String(part)))
        }
        return sizes
    }

    /// "4 KiB", "100 MiB", "1.5 MiB": the shortest exact binary unit, else two decimals.
    static func format(_ bytes: Int) -> String {
        for (suffix, unit) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes >= unit {
            if bytes % unit == 0 { return "\(bytes / unit) \(suffix)" }
            let value = (Double(bytes) / Double(unit) * 100).rounded() / 100
            return "\(value) \(suffix)"
        }
        return "\(bytes) B"
    }

    private static func checked(_ bytes: Int, from text: String) throws(PerfError) -> Int {
        guard bytes >= 4, bytes % 4 == 0, bytes <= 4 << 30 else {
            throw PerfError(code: "perf.usage", "size \(text) is \(bytes) bytes, expected a multiple of 4 between 4 B and 4 GiB (float32 vectors)")
        }
        return bytes
    }
}
