import Foundation
import RechargeBanking
import RechargeCore

/// The operator's account that bank transfers are paid into, shown to the payer with the order's reference.
public struct BankTransferAccount: Sendable, Equatable {
    public let holder: String
    /// IBAN, or account and routing number as the bank prints them.
    public let account: String
    public let bank: String?

    public init(holder: String, account: String, bank: String?) {
        self.holder = holder
        self.account = account
        self.bank = bank
    }
}

/// Bank transfer: the payer transfers the price with the order's RF creditor reference (ISO 11649, made in the
/// creating transaction; its mod-97 check digits catch most typing mistakes); the order is paid when a bank
/// statement with that reference is imported. No notifications, no status query; money goes back by the
/// operator's own payment run, not through this adapter.
public struct BankTransferGateway: PaymentGateway {
    public let account: BankTransferAccount

    public init(account: BankTransferAccount) { self.account = account }

    public var method: PaymentMethod { .bankTransfer }
    public var name: String { "bank_transfer" }
    public var displayName: String { "bank transfer" }
    public var currencies: Set<String>? { nil }
    public var capabilities: PaymentCapabilities { [.localReference] }
    public var settings: [PaymentSetting] {
        [PaymentSetting("RECHARGE_BANK_ACCOUNT"), PaymentSetting("RECHARGE_BANK_HOLDER", required: false), PaymentSetting("RECHARGE_BANK_NAME", required: false)]
    }
    public var isOffered: Bool { true }
    /// Transfers take days.
    public var paymentWindow: TimeInterval { 7 * 86_400 }

    public func localReference(forOrder id: String) -> String? {
        var generator = SystemRandomNumberGenerator()
        return PaymentReference.random(using: &generator).electronic
    }

    public func startCheckout(_ order: RechargeOrder, chinese: Bool) async throws -> PaymentCheckout {
        guard let checkout = checkout(for: order) else { throw RechargeError.paymentMethodUnavailable(method.rawValue) }
        return checkout
    }

    public func checkout(for order: RechargeOrder) -> PaymentCheckout? {
        guard let text = order.providerReference, let reference = try? PaymentReference(text) else { return nil }
        return .bankTransfer(reference: reference.printed, account: account.account, holder: account.holder, bank: account.bank)
    }

    /// Banks send statements, not notifications: anything posted as one is refused.
    public func interpret(_ notification: PaymentNotification, now: Date) async throws(RechargeError) -> PaymentEvent {
        throw .paymentNotVerified(provider: method.rawValue, reason: "bank transfers are confirmed by importing the bank's statement")
    }

    public func query(_ order: RechargeOrder) async throws -> PaymentConfirmation? { nil }

    public func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
        throw RechargeError.paymentMethodUnavailable(method.rawValue)
    }
}
