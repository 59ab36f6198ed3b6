import Core
import Testing
@testable import Config

/// Every numeric key, fed values from a seeded generator (huge, negative, zero, fractional, NaN
/// and infinities, non-numbers): each is either accepted inside the key's documented range, or
/// refused with a `ConfigError` naming the key, the `--set` argument and what was expected. A trap
/// (an overflow, a Duration conversion) would crash the test process.
@Suite struct NumericRangePropertyTests {
    static let numericFields: [ConfigField] = ConfigSchema.fields.filter {
        switch $0.kind {
        case .integer, .unsigned, .number: true
        default: false
        }
    }

    static let specials = [
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551616",
        "99999999999999999999999999", "1e300", "-1e300", "1e-300", "5000000", "0.0001", "0", "-0", "-1", "1.5", "0.5",
        ".nan", ".NaN", ".inf", "-.inf", "nan", "inf", "infinity", "NaN", "1e309", "0x10", "0o17", "1_000", "abc", "",
        "\"3\"", "true", "null", "[1]", "{a: 1}", "3600.0001", "0.00999", "2e9", "1099511627777",
    ]

    static func randomValue(_ random: inout SplitMix64) -> String {
        switch random.nextInt(below: 6) {
        case 0: return specials[random.nextInt(below: specials.count)]
        case 1: return "\(Int64(bitPattern: random.next()))"
        case 2: return "\(Int64(bitPattern: random.next()) >> UInt64(random.nextInt(below: 63)))"
        case 3:
            let magnitude = Double(random.nextInt(below: 620)) - 310
            return "\((random.nextInt(below: 2) == 0 ? 1.0 : -1.0) * Double(random.nextUnitFloat()) * pow10(magnitude))"
        case 4: return "\(random.nextInt(below: 4000))"
        default:
            let letters = Array("0123456789.-+eE_xabn ")
            return String((0..<(1 + random.nextInt(below: 8))).map { _ in letters[random.nextInt(below: letters.count)] })
        }
    }

    static func pow10(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(abs(exponent)) { value = exponent < 0 ? value / 10 : value * 10 }
        return value
    }

    @Test func everyNumericKeyRefusesWhatItCannotUseByName() throws {
        var random = SplitMix64(seed: 0x6E75_6D65_7269_63)
        var refused = 0, accepted = 0
        for iteration in 0..<4000 {
            let field = Self.numericFields[iteration % Self.numericFields.count]
            let value = Self.randomValue(&random)
            let argument = "\(field.path)=\(value)"
            do {
                let config = try ClusterConfig.load(path: nil, overrides: [argument])
                accepted += 1
                // Accepted: the value must be inside the documented range, and everything the
                // runtimes derive from the numbers must be computable without a trap.
                #expect(field.rangeProblem(field.get(config)) == nil, "\(argument) accepted out of range")
                Self.deriveEverything(config)
            } catch {
                refused += 1
                #expect(error.keyPath == field.path, "seed iteration \(iteration): \(argument) blamed \(error.keyPath)")
                #expect(error.message.contains(field.path), "\(argument): \(error.message)")
                #expect(error.message.contains("--set \(argument)"), "\(argument): \(error.message)")
                if error.kind == .outOfRange {
                    #expect(error.message.contains(field.expected), "\(argument): \(error.message)")
                }
            }
        }
        // The generator is meant to hit both sides; if it stops doing so, it tests nothing.
        #expect(refused > 1000 && accepted > 100, "refused \(refused), accepted \(accepted)")
    }

    @Test(arguments: [
        ("training.samples=9223372036854775807", "training.samples"),
        ("fault_tolerance.heartbeat_interval=1e300", "fault_tolerance.heartbeat_interval"),
        ("fault_tolerance.heartbeat_interval=5000000", "fault_tolerance.heartbeat_interval"),
        ("fault_tolerance.heartbeat_interval=0.0001", "fault_tolerance.heartbeat_interval"),
        ("fault_tolerance.collective_timeout=.inf", "fault_tolerance.collective_timeout"),
        ("training.steps=9223372036854775807", "training.steps"),
        ("training.learning_rate=.nan", "training.learning_rate"),
    ])
    func theObservedTrapsAreConfigErrors(argument: String, key: String) {
        do {
            _ = try ClusterConfig.load(path: nil, overrides: [argument])
            Issue.record("\(argument) was accepted")
        } catch {
            #expect(error.kind == .outOfRange)
            #expect(error.keyPath == key)
            #expect(error.message.contains("--set \(argument)"))
        }
    }

    @Test func everyNumberHasAFiniteUpperBound() {
        for field in Self.numericFields {
            switch field.kind {
            case let .integer(range): #expect(range.upperBound < Int.max / (1 << 20), "\(field.path)")
            case let .number(range): #expect(range.upper != nil, "\(field.path)")
            default: break
            }
        }
    }

    @Test func bindAddressesMustBeHosts() {
        for bad in ["tcp://127.0.0.1", "not an address", "*", "1.2.3.4:5"] {
            #expect(throws: ConfigError.self) { try ClusterConfig.load(path: nil, overrides: ["coordinator.bind=\"\(bad)\""]) }
            #expect(throws: ConfigError.self) { try ClusterConfig.load(path: nil, overrides: ["workers.bind=\"\(bad)\""]) }
        }
        #expect(throws: Never.self) { try ClusterConfig.load(path: nil, overrides: ["coordinator.bind=\"::1\"", "workers.bind=0.0.0.0"]) }
    }

    /// What the coordinator and workers compute from the numbers, the way they compute it.
    static func deriveEverything(_ config: ClusterConfig) {
        let training = config.training, faults = config.faultTolerance
        let steps = training.samples > 0
            ? min(training.steps, (training.samples + training.globalBatch - 1) / training.globalBatch) : training.steps
        _ = steps * training.globalBatch
        _ = Duration.seconds(faults.heartbeatInterval * Double(faults.missedHeartbeats)) * 4 + .seconds(faults.collectiveTimeout)
        _ = Duration.seconds(faults.heartbeatInterval / 4)
        _ = UInt32(faults.heartbeatInterval * 1000)
        _ = Duration.seconds(faults.waitForWorkers) + .seconds(faults.drainTimeout) + .seconds(faults.spotPollInterval)
        _ = config.reduce.chunkKiB * 1024
        _ = training.warmupSteps + training.evalEvery + config.checkpoint.interval + config.logging.progressEvery
    }
}
