import RechargeCore

/// Something the importer skipped or found inconsistent, kept so the operator sees it rather than
/// having it vanish silently.
public struct StatementNote: Hashable, Sendable, CustomStringConvertible {
    /// Why the note was written; each case carries what the operator needs to look the entry up.
    public enum Kind: Hashable, Sendable {
        /// Entry not booked (PDNG, INFO, FUTR): it may still change, so it is imported once booked.
        case notBooked(status: String)
        /// The transaction amounts of a batch booking do not add up to the entry amount.
        case batchAmountsDiffer(entryAmount: Money)
        /// A batch booking lists several transactions without their amounts, so it stays one entry.
        case batchWithoutAmounts(transactions: Int)
    }

    public var entryReference: String
    public var kind: Kind

    public init(entryReference: String, kind: Kind) {
        self.entryReference = entryReference
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .notBooked(let status): "entry \(entryReference) skipped: status \(status), not booked"
        case .batchAmountsDiffer(let amount): "entry \(entryReference): batch transaction amounts do not add up to \(amount)"
        case .batchWithoutAmounts(let count): "entry \(entryReference): batch of \(count) transactions without amounts kept as one entry"
        }
    }
}
