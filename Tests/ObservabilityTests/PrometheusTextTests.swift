import Foundation
import Testing
@testable import Observability

/// Renders pages and parses them back, with a small parser of the text format here and with the
/// reference parser (`prometheus_client.parser`) when Python has it.
@Suite struct PrometheusTextTests {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// A strict-enough parser of the text format: HELP/TYPE comments, samples with escaped labels.
    static func parse(_ text: String) throws -> (samples: [Sample], types: [String: String], help: [String: String]) {
        var samples: [Sample] = [], types: [String: String] = [:], help: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                let name = rest.prefix { $0 != " " }
                help[String(name)] = String(rest.dropFirst(name.count + 1))
                    .replacingOccurrences(of: "\\n", with: "\n").replacingOccurrences(of: "\\\\", with: "\\")
                continue
            }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                types[String(parts[2])] = String(parts[3])
                continue
            }
            var chars = Array(line)[...]
            let name = String(chars.prefix { $0 != "{" && $0 != " " })
            chars = chars.dropFirst(name.count)
            var labels: [String: String] = [:]
            if chars.first == "{" {
                chars = chars.dropFirst()
                while chars.first != "}" {
                    let key = String(chars.prefix { $0 != "=" })
                    chars = chars.dropFirst(key.count + 2)  // key, =, "
                    var value = ""
                    while let c = chars.first, c != "\"" {
                        chars = chars.dropFirst()
                        if c == "\\", let next = chars.first {
                            chars = chars.dropFirst()
                            value.append(next == "n" ? "\n" : next)
                        } else {
                            value.append(c)
                        }
                    }
                    chars = chars.dropFirst()
                    if chars.first == "," { chars = chars.dropFirst() }
                    labels[key] = value
                }
                chars = chars.dropFirst()
            }
            let valueText = String(chars).trimmingCharacters(in: .whitespaces)
            let value = valueText == "+Inf" ? Double.infinity : valueText == "-Inf" ? -Double.infinity : try #require(Double(valueText))
            samples.append(Sample(name: name, labels: labels, value: value))
        }
        return (samples, types, help)
    }

    static func page() throws -> PrometheusText {
        var page = PrometheusText()
        try page.gauge("grove_step", help: "Last committed step.", value: 40)
        try page.gauge("grove_loss", help: "Mean loss.", value: 0.4312)
        try page.gauge("grove_workers", help: "Workers by status.", value: 2, labels: [("status", "up")])
        try page.counter("grove_samples_total", help: "Samples applied.", value: 1280)
        try page.gauge("grove_workers", help: "Workers by status.", value: 1, labels: [("status", "down")])
        try page.gauge("grove_info", help: "Run \\ info\nsecond line.", value: 1,
                       labels: [("run", "a \"quoted\" name\\path\nnext"), ("phase", "training")])
        try page.gauge("grove_eta_seconds", help: "ETA.", value: .infinity)
        return page
    }

    @Test func groupsSamplesUnderOneHelpAndTypeLine() throws {
        let text = try Self.page().render()
        #expect(text.hasSuffix("\n"))
        #expect(text.components(separatedBy: "# TYPE grove_workers gauge").count == 2)
        #expect(text.contains("# TYPE grove_samples_total counter\ngrove_samples_total 1280\n"))
        #expect(text.contains("grove_workers{status=\"up\"} 2\ngrove_workers{status=\"down\"} 1\n"))
        #expect(text.contains(#"grove_info{run="a \"quoted\" name\\path\nnext",phase="training"} 1"#))
        #expect(text.contains("grove_eta_seconds +Inf"))
        #expect(text.contains("# HELP grove_info Run \\\\ info\\nsecond line."))
    }

    @Test func parsesBackToTheSameSamples() throws {
        let (samples, types, help) = try Self.parse(Self.page().render())
        #expect(samples.count == 7)
        #expect(samples.first == Sample(name: "grove_step", labels: [:], value: 40))
        #expect(samples.contains(Sample(name: "grove_loss", labels: [:], value: 0.4312)))
        #expect(samples.contains(Sample(name: "grove_workers", labels: ["status": "down"], value: 1)))
        #expect(samples.contains(Sample(name: "grove_info", labels: ["run": "a \"quoted\" name\\path\nnext", "phase": "training"], value: 1)))
        #expect(types["grove_samples_total"] == "counter")
        #expect(types["grove_workers"] == "gauge")
        #expect(help["grove_info"] == "Run \\ info\nsecond line.")
    }

    @Test func refusesBadNamesAndTypeConflicts() throws {
        var page = PrometheusText()
        #expect(throws: ObservabilityError.self) { try page.gauge("9lives", help: "", value: 1) }
        #expect(throws: ObservabilityError.self) { try page.gauge("grove-step", help: "", value: 1) }
        #expect(throws: ObservabilityError.self) { try page.gauge("grove_x", help: "", value: 1, labels: [("__reserved", "v")]) }
        #expect(throws: ObservabilityError.self) { try page.gauge("grove_x", help: "", value: 1, labels: [("bad-label", "v")]) }
        try page.gauge("grove_x", help: "x", value: 1)
        let error = #expect(throws: ObservabilityError.self) { try page.counter("grove_x", help: "x", value: 1) }
        #expect(error?.kind == .conflictingMetricType)
        #expect(error?.message.contains("grove_x") == true)
        #expect(page.render() == "# HELP grove_x x\n# TYPE grove_x gauge\ngrove_x 1\n")
    }

    @Test func formatsSpecialValues() {
        #expect(PrometheusText.format(.nan) == "NaN")
        #expect(PrometheusText.format(-.infinity) == "-Inf")
        #expect(PrometheusText.format(-3) == "-3")
        #expect(PrometheusText.format(0.1) == "0.1")
        #expect(PrometheusText.format(1e20) == "1e+20")
    }

    static let referenceScript = #"""
    import json, math, sys
    from prometheus_client.parser import text_string_to_metric_families
    out = []
    for family in text_string_to_metric_families(sys.stdin.read()):
        for s in family.samples:
            out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value if math.isfinite(s.value) else str(s.value)})
    json.dump(out, sys.stdout)
    """#

    @Test(.enabled(if: Python.hasPrometheusClient, "python3 with prometheus_client is not installed (pip install prometheus_client)"))
    func referenceParserReadsThePage() throws {
        struct Parsed: Decodable {
            var family: String
            var type: String
            var name: String
            var labels: [String: String]
            var value: Double?
            enum CodingKeys: String, CodingKey { case family, type, name, labels, value }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                family = try c.decode(String.self, forKey: .family)
                type = try c.decode(String.self, forKey: .type)
                name = try c.decode(String.self, forKey: .name)
                labels = try c.decode([String: String].self, forKey: .labels)
                // Non-finite values arrive as strings ("inf"); the checks below only need finite ones.
                value = try? c.decode(Double.self, forKey: .value)
            }
        }
        var page = try Self.page()
        try page.gauge("grove_generation", help: "g", value: 3)
        let result = try Python.run(["-c", Self.referenceScript], stdin: page.render())
        try #require(result.status == 0, "prometheus_client could not parse the page: \(result.errors)")
        let parsed = try JSONDecoder().decode([Parsed].self, from: result.output)
        #expect(parsed.count == 8)
        #expect(parsed.contains { $0.name == "grove_workers" && $0.labels == ["status": "up"] && $0.value == 2 })
        #expect(parsed.contains { $0.name == "grove_info" && $0.labels["run"] == "a \"quoted\" name\\path\nnext" })
        #expect(parsed.contains { $0.family == "grove_samples" && $0.type == "counter" && $0.value == 1280 })
        #expect(parsed.contains { $0.name == "grove_loss" && $0.value == 0.4312 })
    }
}
