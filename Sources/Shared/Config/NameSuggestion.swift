/// Finds the known name a user most likely meant, for "did you mean" hints.
enum NameSuggestion {
    /// The candidate closest to `name`, or nil when none is close enough to be a plausible typo.
    ///
    /// Case, `_` and `-` are ignored first, so `globalBatch` finds `global_batch`; otherwise the
    /// edit distance must be at most a third of the name's length (and at least 2 is allowed).
    static func nearest(to name: String, in candidates: [String]) -> String? {
        let normalized = normalize(name)
        if let exact = candidates.first(where: { normalize($0) == normalized }) { return exact }
        let limit = max(2, name.count / 3)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(normalized, normalize(candidate))
            if distance <= limit, distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        return best?.candidate
    }

    private static func normalize(_ name: String) -> [Character] {
        Array(name.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// Levenshtein distance with two rolling rows: O(a * b) time, O(b) memory; names are short.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
