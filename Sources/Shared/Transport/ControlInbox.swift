import Core

/// Control messages received and not yet taken by the process's loop, with a budget in bytes.
///
/// While the messages held reach `budget`, the socket thread stops reading the control socket:
/// libzmq then keeps further messages in its own bounded queues (`controlHighWaterMark`) and,
/// past those, holds its peers back. Nothing is dropped and memory stays bounded, whatever a
/// peer floods the coordinator with or however long its loop is busy.
public final class ControlInbox: @unchecked Sendable {
    private let queue = BlockingQueue<ControlFrame>()
    private let held = Locked(0)
    public let budget: Int
    /// Called when a pop brings the bytes held back under the budget (wakes the socket thread).
    let onRoom: @Sendable () -> Void

    init(budget: Int, onRoom: @escaping @Sendable () -> Void) {
        self.budget = budget
        self.onRoom = onRoom
    }

    /// Bytes of the messages held now.
    public var heldBytes: Int { held.value }

    /// Whether the socket thread should stop reading until a pop makes room.
    var isFull: Bool { held.value >= budget }

    func push(_ frame: ControlFrame) {
        held.update { $0 += frame.bytes.count + frame.peer.count }
        if !queue.push(frame) { held.update { $0 -= frame.bytes.count + frame.peer.count } }
    }

    /// The oldest message, waiting until `deadline` at the most.
    public func pop(until deadline: ContinuousClock.Instant) -> BlockingQueue<ControlFrame>.PopResult {
        let result = queue.pop(until: deadline)
        if case .item(let frame) = result {
            let size = frame.bytes.count + frame.peer.count
            let wasFull = held.update { bytes -> Bool in
                let full = bytes >= budget
                bytes -= size
                return full && bytes < budget
            }
            if wasFull { onRoom() }
        }
        return result
    }

    public var isClosed: Bool { queue.isClosed }

    func close() { queue.close() }
}
