import Core
import Testing

@Suite("BlockingQueue")
struct BlockingQueueTests {
    /// Something whose release can be observed.
    final class Token: Sendable {}

    @Test("values come out in the order they went in")
    func fifo() {
        let queue = BlockingQueue<Int>()
        for value in 0..<2000 { queue.push(value) }
        var out: [Int] = []
        while let value = queue.tryPop() { out.append(value) }
        #expect(out == Array(0..<2000))
        #expect(queue.count == 0)
    }

    @Test("a popped value is not kept alive by the queue")
    func poppedValuesAreReleased() {
        let queue = BlockingQueue<Token>()
        weak var first: Token?
        weak var second: Token?
        do {
            let a = Token(), b = Token()
            first = a
            second = b
            queue.push(a)
            queue.push(b)
        }
        // `b` is still queued; `a` is popped and dropped at once.
        do { _ = queue.tryPop() }
        #expect(first == nil, "the queue still holds a value it handed out")
        #expect(second != nil)
        do { _ = queue.tryPop() }
        #expect(second == nil)
    }

    @Test("a closed queue hands out what it holds, then reports closed")
    func closedDrains() {
        let queue = BlockingQueue<Int>()
        queue.push(7)
        queue.close()
        #expect(queue.push(8) == false)
        guard case .item(7) = queue.pop(until: .now) else { Issue.record("the queued value was lost"); return }
        guard case .closed = queue.pop(until: .now + .seconds(1)) else { Issue.record("expected .closed"); return }
    }
}
