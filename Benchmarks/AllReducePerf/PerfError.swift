import Core

/// Anything that stops a benchmark run: a bad option, a rank that died or went silent, a result
/// that is not the expected sum.
struct PerfError: GroveError {
    var code: String
    var message: String

    init(code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}
