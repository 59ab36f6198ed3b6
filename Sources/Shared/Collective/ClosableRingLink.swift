/// A ring link that can be shut down from the outside: what the contract suite needs to simulate a
/// dead member and to release every ring it builds.
public protocol ClosableRingLink: RingLink {
    /// Closes the link in both directions. Afterwards this member's `send` and `receive` throw
    /// `CollectiveError.closed` at once. Its neighbours notice too, as `.closed` or, when the
    /// transport cannot tell, as `.timeout` at their deadline. Closing twice is harmless.
    func close()
}
