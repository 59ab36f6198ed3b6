/// The serialized `Event` protobuf messages (tensorflow/core/util/event.proto) that TensorBoard
/// reads, reduced to the fields Grove writes:
///
/// ```
/// Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
/// Summary { repeated Value value = 1; }
/// Value   { string tag = 1; float simple_value = 2; }
/// ```
public enum TensorBoardEvent {
    /// The version string every event file starts with; TensorBoard rejects files without it.
    public static let fileVersion = "brain.Event:2"

    /// The first record of a file: wall time and the file version, step 0.
    public static func header(wallTime: Double) -> [UInt8] {
        var encoder = ProtobufEncoder()
        encoder.double(1, wallTime)
        encoder.string(3, fileVersion)
        return encoder.bytes
    }

    /// One event carrying a summary with one simple value per tag, all at `step`.
    public static func scalars(_ values: [(tag: String, value: Float)], step: Int64, wallTime: Double) -> [UInt8] {
        var encoder = ProtobufEncoder()
        encoder.double(1, wallTime)
        encoder.int64(2, step)
        encoder.message(5) { summary in
            for (tag, value) in values {
                summary.message(1) { entry in
                    entry.string(1, tag)
                    entry.float(2, value)
                }
            }
        }
        return encoder.bytes
    }
}
