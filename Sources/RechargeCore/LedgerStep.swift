import Foundation

/// One ledger operation a plan asks for, decided without a database: what to apply, why (its purpose, which
/// also gives its key), and which operator-side account is on the other side. The store looks the account up
/// (or creates it) and applies the steps in one transaction, in order.
public struct LedgerStep: Sendable, Equatable {
    public enum Command: Sendable, Equatable {
        case topUp(TopUpCommand)
        case debit(DebitCommand)
    }

    /// An operator-side account by its code.
    public struct Account: Sendable, Equatable {
        public let code: String
        public let kind: LedgerAccountKind
        public let unit: String

        public init(code: String, kind: LedgerAccountKind, unit: String) {
            self.code = code
            self.kind = kind
            self.unit = unit
        }
    }

    public let command: Command
    public let purpose: OperationPurpose
    public let counterparty: Account

    public init(_ command: Command, purpose: OperationPurpose, counterparty: Account) {
        self.command = command
        self.purpose = purpose
        self.counterparty = counterparty
    }
}

/// Exact conversion between two amounts that stand for the same value in two currencies (what the payer paid,
/// what the line was credited), in 128-bit arithmetic so no product can overflow.
public enum ProportionalAmount {
    /// ⌊amount × to / from⌋: `from` of one currency is worth `to` of another.
    public static func down(_ amount: Int64, from: Int64, to: Int64) -> Int64 {
        precondition(amount >= 0 && from > 0 && to >= 0)
        let product = amount.multipliedFullWidth(by: to)
        return from.dividingFullWidth((high: product.high, low: product.low)).quotient
    }

    /// ⌈amount × to / from⌉.
    public static func up(_ amount: Int64, from: Int64, to: Int64) -> Int64 {
        precondition(amount >= 0 && from > 0 && to >= 0)
        let product = amount.multipliedFullWidth(by: to)
        let (quotient, remainder) = from.dividingFullWidth((high: product.high, low: product.low))
        return remainder > 0 ? quotient + 1 : quotient
    }
}
