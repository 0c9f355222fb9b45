/// Hands out SMPP sequence numbers: 1 through 0x7FFFFFFF, then round again (SMPP 3.4 §3.2 keeps the top
/// bit clear).
public struct SMPPSequenceNumbers: Sendable, Hashable {
    public static let maximum: UInt32 = 0x7FFF_FFFF
    private var last: UInt32

    /// `startingAfter` lets tests start next to the wrap-around point.
    public init(startingAfter last: UInt32 = 0) {
        self.last = last
    }

    public mutating func next() -> UInt32 {
        last = last >= Self.maximum ? 1 : last + 1
        return last
    }
}
