import Foundation

/// The key decoding of `summary.json`: snake_case converted to the camelCase of the synthesized
/// keys, except inside types that spell their JSON keys out themselves.
///
/// `EvaluationReport` (under `validation.trees`) declares `canopy_iou`-style keys so that it reads
/// the same with or without a key strategy. `.convertFromSnakeCase` would turn the file's
/// `canopy_iou` into `canopyIou`, match none of them, and fail the whole summary: that made a
/// finished CanopyNet run look unfinished, and the next invocation overwrote it.
enum SummaryKeys {
    /// Properties whose value is decoded with its own, explicit keys.
    static let explicitlyKeyed: Set<String> = ["trees"]

    @Sendable static func fromSnakeCase(_ path: [CodingKey]) -> CodingKey {
        let key = path.last!
        if path.dropLast().contains(where: { explicitlyKeyed.contains($0.stringValue) }) { return key }
        return AnyKey(camelCase(key.stringValue))
    }

    /// `canopy_iou` -> `canopyIou`, as `.convertFromSnakeCase` does for keys without leading or
    /// trailing underscores (summary keys have none).
    static func camelCase(_ snake: String) -> String {
        let parts = snake.split(separator: "_", omittingEmptySubsequences: true)
        guard let first = parts.first, parts.count > 1 else { return snake }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) {
            stringValue = "\(intValue)"
            self.intValue = intValue
        }
    }
}
