import Core
import Foundation
import Testing
@testable import Transport

/// The control inbox holds at most its budget of received bytes: a flood waits in libzmq and at
/// its sender instead of growing the receiver's memory, and nothing is lost.
@Suite struct ControlInboxClusteredTests {
    @Test func aFloodIsHeldBackNotDroppedAndTheInboxStaysWithinItsBudget() throws {
        var settings = TransportSettings()
        settings.maxQueuedControlBytes = 64 * 1024
        settings.controlHighWaterMark = 4
        let coordinator = SocketLoop(settings: settings), worker = SocketLoop()
        defer { worker.close(); coordinator.close() }
        let endpoint = try coordinator.bindControl("tcp://127.0.0.1:*")
        try worker.connectControl(endpoint)
        let count = 200, size = 16 * 1024
        for index in 0..<count {
            var message = [UInt8](repeating: 0, count: size)
            message[0] = UInt8(index & 0xFF)
            message[1] = UInt8(index >> 8)
            worker.sendControl(message)
        }
        // Nobody pops for a while: the inbox fills to its budget and stops there.
        var peak = 0
        let until = ContinuousClock.now + .milliseconds(500)
        while ContinuousClock.now < until {
            peak = max(peak, coordinator.control.heldBytes)
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(peak >= settings.maxQueuedControlBytes, "the inbox filled up to its budget")
        #expect(peak < settings.maxQueuedControlBytes + 2 * (size + 64), "at most one message past the budget: \(peak)")
        // Popping makes room; every message arrives, in order.
        for index in 0..<count {
            guard case .item(let frame) = coordinator.control.pop(until: .now + .seconds(10)) else {
                Issue.record("message \(index) never arrived")
                return
            }
            #expect(Int(frame.bytes[0]) | Int(frame.bytes[1]) << 8 == index)
            #expect(coordinator.control.heldBytes < settings.maxQueuedControlBytes + 2 * (size + 64))
        }
    }
}
