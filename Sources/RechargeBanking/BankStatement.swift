import RechargeCore

/// One bank statement as imported from a camt.053 file or a CSV export: the account it covers and the
/// booked entries, ready to be de-duplicated by ``StatementEntry/entryReference`` and matched to orders.
public struct BankStatement: Hashable, Sendable {
    /// The bank's id for this statement (camt.053 `Stmt/Id`; for CSV, whatever the caller names the file).
    public var statementID: String
    public var account: BankAccount
    /// The account currency when the statement states it (camt.053 `Acct/Ccy`) or all entries share one.
    public var currency: Currency?
    /// Booked entries only; a batch booking is already split into one entry per transaction.
    public var entries: [StatementEntry]
    /// What the parser left out or found odd, for the operator's import report.
    public var notes: [StatementNote]

    public init(statementID: String, account: BankAccount, currency: Currency?, entries: [StatementEntry], notes: [StatementNote] = []) {
        self.statementID = statementID
        self.account = account
        self.currency = currency
        self.entries = entries
        self.notes = notes
    }
}

/// The account a statement is for: an IBAN where the bank uses one, otherwise the bank's own account id.
public enum BankAccount: Hashable, Sendable, CustomStringConvertible {
    case iban(String)
    case other(String)

    public var description: String {
        switch self {
        case .iban(let iban): iban
        case .other(let id): id
        }
    }
}

/// Whether money came into the account (a payer's transfer) or left it.
public enum CreditDebit: String, Hashable, Sendable, Codable {
    case credit = "CRDT"
    case debit = "DBIT"
}

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

/// What the payer wrote for the payee: free text lines and, when the payer's bank supports it, a
/// structured creditor reference (camt.053 `RmtInf/Strd/CdtrRefInf/Ref`).
public struct RemittanceInformation: Hashable, Sendable {
    public var unstructured: [String]
    /// As the bank delivered it, not validated: the matcher decides whether it is a valid RF reference.
    public var creditorReference: String?

    public init(unstructured: [String] = [], creditorReference: String? = nil) {
        self.unstructured = unstructured
        self.creditorReference = creditorReference
    }
}

/// Something the importer skipped or found inconsistent, kept so the operator sees it rather than
/// having it vanish silently.
public struct StatementNote: Hashable, Sendable, CustomStringConvertible {
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
