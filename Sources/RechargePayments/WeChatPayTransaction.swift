/// The payment a WeChat Pay `TRANSACTION.SUCCESS` (or other transaction) notification carries, as
/// decrypted from its `resource`. Amounts are fen.
public struct WeChatPayTransaction: Sendable, Equatable, Decodable {
    /// The amount object: `total` is what the order asked for, in fen.
    public struct Amount: Sendable, Equatable, Decodable {
        public let total: Int64
        public let currency: String
        public let payerTotal: Int64?
        public let payerCurrency: String?

        enum CodingKeys: String, CodingKey {
            case total, currency
            case payerTotal = "payer_total"
            case payerCurrency = "payer_currency"
        }
    }

    public let outTradeNo: String
    public let transactionID: String
    /// `SUCCESS`, `REFUND`, `NOTPAY`, `CLOSED`, … kept as sent so new states are logged, not lost.
    public let tradeState: String
    public let amount: Amount
    public let mchID: String
    public let appID: String
    public let successTime: String?

    public var isPaid: Bool { tradeState == "SUCCESS" }

    enum CodingKeys: String, CodingKey {
        case outTradeNo = "out_trade_no"
        case transactionID = "transaction_id"
        case tradeState = "trade_state"
        case amount
        case mchID = "mchid"
        case appID = "appid"
        case successTime = "success_time"
    }
}
