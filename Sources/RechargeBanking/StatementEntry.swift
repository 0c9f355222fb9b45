import RechargeCore

/// One movement on the account. For a payer's transfer this is what gets matched to an order.
public struct StatementEntry: Hashable, Sendable {
    /// The bank's unique reference for this movement: the key that makes importing the same statement
    /// (or overlapping statements) twice credit nothing twice.
    public var entryReference: String
    public var bookingDate: BankDate
    public var valueDate: BankDate?
    public var direction: CreditDebit
    /// Always non-negative; ``direction`` carries the sign.
    public var amount: Money
    public var remittance: RemittanceInformation
    /// Who paid (camt.053 `RltdPties/Dbtr`); for a debit, who was paid is not recorded here.
    public var debtorName: String?
    /// The payer's end-to-end id, `NOTPROVIDED` included as the bank wrote it.
    public var endToEndID: String?
    /// The bank marked this entry as undoing an earlier one (camt.053 `RvslInd`), e.g. a returned credit
    /// booked as a debit. Kept so a reconciler can spot a payment taken back after it was matched.
    public var isReversal: Bool
    /// Free text the bank adds to the entry (camt.053 `AddtlNtryInf`/`AddtlTxInf`); some banks put the
    /// payer's remittance text only here.
    public var additionalInformation: String?

    public init(
        entryReference: String, bookingDate: BankDate, valueDate: BankDate? = nil, direction: CreditDebit,
        amount: Money, remittance: RemittanceInformation = .init(), debtorName: String? = nil,
        endToEndID: String? = nil, additionalInformation: String? = nil, isReversal: Bool = false
    ) {
        self.entryReference = entryReference
        self.bookingDate = bookingDate
        self.valueDate = valueDate
        self.direction = direction
        self.amount = amount
        self.remittance = remittance
        self.debtorName = debtorName
        self.endToEndID = endToEndID
        self.additionalInformation = additionalInformation
        self.isReversal = isReversal
    }
}
