import Foundation
import RechargeCore

/// The HTTP answer to a payment notification, as a provider reads it: some providers parse the body of the answer
/// (Alipay retries until it reads exactly `success`, WeChat Pay reads a `{"code":"FAIL",…}` object), so the bytes
/// are the adapter's, not the server's. Plain values, so this module needs no HTTP framework.
public struct PaymentNotificationReply: Sendable, Equatable {
    /// The HTTP status code.
    public let status: Int
    /// The `Content-Type`; nil for an answer without a body.
    public let contentType: String?
    public let body: [UInt8]

    public init(status: Int, contentType: String?, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// A plain-text answer (UTF-8).
    public static func text(_ text: String, status: Int) -> PaymentNotificationReply {
        PaymentNotificationReply(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    /// An answer without a body (204).
    public static let noContent = PaymentNotificationReply(status: 204, contentType: nil, body: [])
}

/// An adapter whose payer approves a payment that the server must then capture (PayPal): a
/// ``PaymentEvent/approved(orderID:reference:)`` notification, or the payer's way back, asks it to.
public protocol PaymentCapturing: PaymentGateway {
    /// Captures the approved payment `reference` of `order`; nil while the payer has not approved it. A capture
    /// made before (by another path, or a retry) is read back, never taken twice.
    func capture(_ order: RechargeOrder, reference: String) async throws -> PaymentConfirmation?
}

extension PayPalGateway: PaymentCapturing {
    public func capture(_ order: RechargeOrder, reference: String) async throws -> PaymentConfirmation? {
        try await capture(order, paypalOrderID: reference)
    }
}
