import Wire

/// What happens at one instant of simulated time.
enum SimEvent {
    case deliver(SimNetwork.Packet)
    case coordinatorTick
    /// A worker's own timer; `life` voids timers of an earlier incarnation or process.
    case worker(slot: Int, life: Int, SimWorker.Timer)
    case ringComplete(session: Int)
    case fault(FaultPlan.Fault)
    case faultsEnd
    case restart(slot: Int)
}

/// The simulator's agenda: a binary min-heap ordered by time, then by insertion, so that events
/// at the same instant run in the order they were scheduled (the run is a function of the seed).
struct SimEventQueue {
    private struct Entry {
        var at: Int
        var seq: Int
        var event: SimEvent
        func before(_ other: Entry) -> Bool { at != other.at ? at < other.at : seq < other.seq }
    }

    private var heap: [Entry] = []
    private var seq = 0

    var isEmpty: Bool { heap.isEmpty }

    mutating func schedule(_ event: SimEvent, at: Int) {
        seq += 1
        heap.append(Entry(at: at, seq: seq, event: event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].before(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (at: Int, event: SimEvent)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].before(heap[smallest]) { smallest = left }
            if right < heap.count && heap[right].before(heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.at, top.event)
    }
}
