import Foundation
import RechargeCore
import RechargeStore

// MARK: Inputs

/// `{"currency": "USD", "value": "10.50"}`: money as a decimal string, so no amount passes through a float.
struct MoneyInput: Decodable, Sendable {
    let currency: String
    let value: String

    func money() throws(RechargeError) -> Money {
        try Money(decimal: value, currency: try Currency(code: currency))
    }

    static let fields: Set<String> = ["currency", "value"]
}

struct OpenLineRequest: StrictlyDecodable {
    struct Subscriber: Decodable {
        let name: String?
        let email: String?
        let language: String?
    }

    let msisdn: String
    let iccid: String?
    let type: LineType?
    let currency: String?
    let creditLimit: MoneyInput?
    let subscriber: Subscriber?

    static let allowedFields: [String: Set<String>] = [
        "": ["msisdn", "iccid", "type", "currency", "creditLimit", "subscriber"],
        "creditLimit": MoneyInput.fields,
        "subscriber": ["name", "email", "language"],
    ]

    func command() throws(RechargeError) -> OpenLineCommand {
        let currency = try Currency(code: currency ?? creditLimit?.currency ?? "USD")
        return try OpenLineCommand(
            msisdn: try MSISDN(msisdn),
            iccid: try iccid.map { text throws(RechargeError) in try ICCID(text) },
            type: type ?? .prepaid,
            currency: currency,
            creditLimit: try creditLimit?.money(),
            subscriber: try subscriber.map { s throws(RechargeError) in try SubscriberDetails(name: s.name, email: s.email, language: s.language) })
    }
}

struct ChangeLineRequest: StrictlyDecodable {
    let status: LineStatus
    static let allowedFields: [String: Set<String>] = ["": ["status"]]
}

/// A quantity in a bucket: money for monetary buckets, a whole number of bytes, seconds or SMS otherwise.
enum QuantityInput: Decodable {
    case money(MoneyInput)
    case units(Int64)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let units = try? container.decode(Int64.self) {
            self = .units(units)
        } else if let money = try? container.decode(MoneyInput.self) {
            self = .money(money)
        } else {
            throw DecodingError.typeMismatch(Int64.self, .init(codingPath: decoder.codingPath, debugDescription: "expected an integer, or {currency, value} for money"))
        }
    }
}

struct BucketInput: Decodable {
    let kind: BucketKind
    let amount: QuantityInput
    let name: String?
    let validFrom: Date?
    let validUntil: Date?
    let validForDays: Int?
    let priority: Int?

    static let fields: Set<String> = ["kind", "amount", "name", "validFrom", "validUntil", "validForDays", "priority"]

    func value(now: Date) throws(RechargeError) -> TopUpValue {
        let units: Int64
        var currency: Currency?
        switch (kind, amount) {
        case (.monetary, .money(let input)):
            let money = try input.money()
            units = money.micros
            currency = money.currency
        case (.monetary, .units):
            throw .invalidRequest("bucket.amount of a monetary bucket is money: {\"currency\": \"USD\", \"value\": \"5.00\"}.")
        case (_, .money):
            throw .invalidRequest("bucket.amount of a \(kind.rawValue) bucket is a whole number of \(kind.unit(currency: .usd).lowercased()).")
        case (_, .units(let value)):
            units = value
        }
        if validUntil != nil, validForDays != nil { throw .invalidRequest("Give bucket.validUntil or bucket.validForDays, not both.") }
        var until = validUntil
        if let days = validForDays {
            guard (1...3660).contains(days) else { throw .invalidRequest("bucket.validForDays must be between 1 and 3660.") }
            until = (validFrom ?? now).addingTimeInterval(Double(days) * 86_400)
        }
        if let until, until <= now { throw .invalidRequest("bucket.validUntil is in the past.") }
        let grant = try BucketGrant(kind: kind, amount: units, name: name, validFrom: validFrom, validUntil: until, priority: priority ?? BucketGrant.defaultPriority)
        return .bucket(grant, currency: currency)
    }
}

struct TopUpRequest: StrictlyDecodable {
    let amount: MoneyInput?
    let bucket: BucketInput?
    let channel: Channel
    let reference: String?

    static let allowedFields: [String: Set<String>] = [
        "": ["amount", "bucket", "channel", "reference"],
        "amount": MoneyInput.fields,
        "bucket": BucketInput.fields,
        "bucket.amount": MoneyInput.fields,
    ]

    func command(msisdn: MSISDN, now: Date) throws(RechargeError) -> TopUpCommand {
        let value: TopUpValue
        switch (amount, bucket) {
        case (let amount?, nil): value = .money(try amount.money())
        case (nil, let bucket?): value = try bucket.value(now: now)
        default: throw .invalidRequest("Give exactly one of 'amount' (money for the main balance) or 'bucket' (a new bucket).")
        }
        return try TopUpCommand(msisdn: msisdn, value: value, channel: channel, reference: reference)
    }
}

struct DebitRequest: StrictlyDecodable {
    struct Usage: Decodable {
        let kind: BucketKind
        let amount: Int64
    }

    let amount: MoneyInput?
    let usage: Usage?
    let channel: Channel?
    let reference: String?

    static let allowedFields: [String: Set<String>] = [
        "": ["amount", "usage", "channel", "reference"],
        "amount": MoneyInput.fields,
        "usage": ["kind", "amount"],
    ]

    func command(msisdn: MSISDN) throws(RechargeError) -> DebitCommand {
        let channel = channel ?? .network
        switch (amount, usage) {
        case (let amount?, nil):
            let money = try amount.money()
            return try DebitCommand(msisdn: msisdn, kind: .monetary, amount: money.micros, currency: money.currency, channel: channel, reference: reference)
        case (nil, let usage?):
            guard usage.kind != .monetary else {
                throw .invalidRequest("Charge money with 'amount': {\"currency\": …, \"value\": …}; 'usage' is for data, voice or sms.")
            }
            return try DebitCommand(msisdn: msisdn, kind: usage.kind, amount: usage.amount, currency: nil, channel: channel, reference: reference)
        default:
            throw .invalidRequest("Give exactly one of 'amount' (money) or 'usage' (data, voice or sms units).")
        }
    }
}

// MARK: Outputs

struct MoneyOutput: Encodable {
    let currency: String
    let value: String
    let micros: Int64

    init(_ money: Money) {
        currency = money.currency.code
        value = money.decimalString
        micros = money.micros
    }
}

/// The decimal text of an amount in `unit`, when `unit` is a currency (nil for bytes, seconds, SMS).
func decimalValue(_ amount: Int64, unit: String) -> String? {
    guard let currency = try? Currency(code: unit) else { return nil }
    return Money(micros: amount, currency: currency).decimalString
}

struct LineOutput: Encodable {
    let id: Int64
    let msisdn: String
    let iccid: String?
    let type: LineType
    let status: LineStatus
    let currency: String
    let creditLimit: MoneyOutput
    let createdAt: String
    /// Chargeable use stopped because money ran out (emergency calls still work); the next credit clears it.
    let barred: Bool
    let barredAt: String?

    init(_ line: Line) {
        barred = line.barredAt != nil
        barredAt = line.barredAt.map(RFC3339.format)
        id = line.id
        msisdn = line.msisdn.e164
        iccid = line.iccid?.digits
        type = line.type
        status = line.status
        currency = line.currency.code
        creditLimit = MoneyOutput(line.creditLimit)
        createdAt = RFC3339.format(line.createdAt)
    }
}

/// TMF654-style prepay balance: every bucket with what remains and when it expires, plus totals per unit.
struct BalanceOutput: Encodable {
    struct Total: Encodable {
        let kind: BucketKind
        let unit: String
        let remaining: Int64
        let available: Int64
        let remainingValue: String?
        let availableValue: String?
    }

    struct BucketOutput: Encodable {
        let id: Int64
        let kind: BucketKind
        let unit: String
        let name: String?
        let remaining: Int64
        let remainingValue: String?
        let validFrom: String
        let validUntil: String?
        let priority: Int
        let isMain: Bool
        let isValid: Bool
    }

    let msisdn: String
    let status: LineStatus
    let currency: String
    let creditLimit: MoneyOutput
    let asOf: String
    let totals: [Total]
    let buckets: [BucketOutput]

    init(_ summary: BalanceSummary) {
        msisdn = summary.line.msisdn.e164
        status = summary.line.status
        currency = summary.line.currency.code
        creditLimit = MoneyOutput(summary.line.creditLimit)
        asOf = RFC3339.format(summary.asOf)
        totals = summary.totals.map {
            Total(kind: $0.kind, unit: $0.unit, remaining: $0.remaining, available: $0.available,
                  remainingValue: decimalValue($0.remaining, unit: $0.unit), availableValue: decimalValue($0.available, unit: $0.unit))
        }
        buckets = summary.buckets.map {
            BucketOutput(
                id: $0.id, kind: $0.kind, unit: $0.unit, name: $0.name, remaining: $0.remaining,
                remainingValue: decimalValue($0.remaining, unit: $0.unit), validFrom: RFC3339.format($0.validFrom),
                validUntil: $0.validUntil.map(RFC3339.format), priority: $0.priority, isMain: $0.isMain, isValid: $0.isValid(at: summary.asOf))
        }
    }
}

struct OperationOutput: Encodable {
    struct Entry: Encodable {
        let transferId: Int64
        let bucketId: Int64
        let bucketKind: BucketKind
        let unit: String
        /// Signed, in the unit's base (micro-units for money): positive credited to the line, negative debited.
        let amount: Int64
        let amountValue: String?
        let remainingAfter: Int64
        let remainingAfterValue: String?
    }

    let id: Int64
    let type: LedgerOperation.Kind
    let msisdn: String
    let idempotencyKey: String
    let channel: Channel
    let reference: String?
    let createdAt: String
    let entries: [Entry]
    /// Present (true) only on a top-up paid through the sandbox: test money, never revenue.
    let testPayment: Bool?

    init(_ operation: LedgerOperation, testPayment: Bool = false) {
        self.testPayment = testPayment ? true : nil
        id = operation.id
        type = operation.kind
        msisdn = operation.msisdn
        idempotencyKey = operation.idempotencyKey
        channel = operation.channel
        reference = operation.reference
        createdAt = RFC3339.format(operation.createdAt)
        entries = operation.entries.map {
            Entry(transferId: $0.transferID, bucketId: $0.bucketID, bucketKind: $0.bucketKind, unit: $0.unit, amount: $0.amount,
                  amountValue: decimalValue($0.amount, unit: $0.unit), remainingAfter: $0.remainingAfter,
                  remainingAfterValue: decimalValue($0.remainingAfter, unit: $0.unit))
        }
    }
}

struct HistoryOutput: Encodable {
    let items: [OperationOutput]
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    let nextCursor: String?
}

/// Opaque pagination cursors: base64url of `op:<id>`.
enum Cursor {
    static func encode(_ id: Int64) -> String {
        Data("op:\(id)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) throws(RechargeError) -> Int64 {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard text.count <= 40, let data = Data(base64Encoded: base64),
              let string = String(data: data, encoding: .utf8), string.hasPrefix("op:"),
              let id = Int64(string.dropFirst(3)), id > 0
        else { throw .invalidCursor }
        return id
    }
}

// MARK: Hand-written encodings of the hot responses

/// A response written with ``JSONWriter`` instead of `JSONEncoder`. Each type keeps its `Encodable`
/// conformance as the reference: the tests check that both give the same bytes.
protocol JSONWritable: Encodable {
    func write(to json: inout JSONWriter)
}

extension MoneyOutput: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("currency", currency)
            json.field("micros", micros)
            json.field("value", value)
        }
    }
}

extension BalanceOutput: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("asOf", asOf)
            json.key("buckets")
            json.array(buckets) { json, bucket in
                json.object { json in
                    json.field("id", bucket.id)
                    json.field("isMain", bucket.isMain)
                    json.field("isValid", bucket.isValid)
                    json.field("kind", bucket.kind.rawValue)
                    json.field("name", bucket.name)
                    json.field("priority", bucket.priority)
                    json.field("remaining", bucket.remaining)
                    json.field("remainingValue", bucket.remainingValue)
                    json.field("unit", bucket.unit)
                    json.field("validFrom", bucket.validFrom)
                    json.field("validUntil", bucket.validUntil)
                }
            }
            json.key("creditLimit")
            creditLimit.write(to: &json)
            json.field("currency", currency)
            json.field("msisdn", msisdn)
            json.field("status", status.rawValue)
            json.key("totals")
            json.array(totals) { json, total in
                json.object { json in
                    json.field("available", total.available)
                    json.field("availableValue", total.availableValue)
                    json.field("kind", total.kind.rawValue)
                    json.field("remaining", total.remaining)
                    json.field("remainingValue", total.remainingValue)
                    json.field("unit", total.unit)
                }
            }
        }
    }
}

extension OperationOutput: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("channel", channel.rawValue)
            json.field("createdAt", createdAt)
            json.key("entries")
            json.array(entries) { json, entry in
                json.object { json in
                    json.field("amount", entry.amount)
                    json.field("amountValue", entry.amountValue)
                    json.field("bucketId", entry.bucketId)
                    json.field("bucketKind", entry.bucketKind.rawValue)
                    json.field("remainingAfter", entry.remainingAfter)
                    json.field("remainingAfterValue", entry.remainingAfterValue)
                    json.field("transferId", entry.transferId)
                    json.field("unit", entry.unit)
                }
            }
            json.field("id", id)
            json.field("idempotencyKey", idempotencyKey)
            json.field("msisdn", msisdn)
            json.field("reference", reference)
            if let testPayment { json.field("testPayment", testPayment) }
            json.field("type", type.rawValue)
        }
    }
}
