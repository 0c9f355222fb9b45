import Foundation
import HTTPTypes
import Hummingbird
import RechargeCore
import RechargeStore

/// `POST /v1/lines/{msisdn}/voucher-redemptions`: a scratch card's PIN (and optionally its serial) credits the
/// line once. The handler decodes, calls ``VoucherStore/redeem(_:now:)`` and encodes; voucher refusals become
/// problem+json here because two of them carry a `Retry-After`.
struct VouchersController {
    let vouchers: VoucherStore?
    let clock: @Sendable () -> Date

    func addRoutes(to group: RouterGroup<RechargeRequestContext>) {
        group.post("lines/{msisdn}/voucher-redemptions", use: redeem)
    }

    @Sendable func redeem(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        let key = try context.require(.write)
        let msisdn = try LinesController.msisdn(context)
        let body = try await JSONBody.decode(VoucherRedemptionRequest.self, from: request, context: context)
        guard let vouchers else {
            throw Problem(status: .serviceUnavailable, code: "vouchers-not-configured", title: "Vouchers not configured",
                          detail: "This server has no voucher key (RECHARGE_VOUCHER_KEY); vouchers cannot be redeemed.")
        }
        let serial = try body.serial.map { text -> Int64 in
            guard let value = Int64(text), value > 0 else { throw Problem.malformedBody("'serial' must be the digits printed on the card.", field: "serial") }
            return value
        }
        let client = body.client.map { "\(key.prefix)/\($0)" } ?? key.prefix
        let now = clock()
        do {
            let redemption = try await vouchers.redeem(
                VoucherRedemptionAttempt(msisdn: msisdn, pin: body.pin, serial: serial, channel: (body.channel ?? .api).rawValue, client: client), now: now)
            var response = try JSONResponse.make(VoucherRedemptionOutput(redemption), status: .created)
            response.headers[.location] = "/v1/lines/\(msisdn.e164)/transactions"
            return response
        } catch let error as VoucherError {
            var problem = Problem(status: Self.status(for: error), code: error.code, title: error.title, detail: error.detail)
            problem.instance = request.uri.path
            var response = problem.response()
            switch error {
            case .lockedOut(_, let until), .channelPaused(_, let until):
                response.headers[.retryAfter] = String(max(1, Int(until.timeIntervalSince(now).rounded(.up))))
            default:
                break
            }
            return response
        }
    }

    static func status(for error: VoucherError) -> HTTPResponse.Status {
        switch error {
        case .malformedPIN, .invalidBatch, .serialsOutsideBatch: .badRequest
        case .invalidPIN, .expired, .notActive, .blocked, .currencyMismatch: .unprocessableContent
        case .alreadyRedeemed, .illegalBatchTransition, .alreadyExported, .approvalBySameAdmin, .approvalNotPending: .conflict
        case .batchNotFound, .approvalNotFound: .notFound
        case .lockedOut: .tooManyRequests
        case .channelPaused: .serviceUnavailable
        }
    }
}

/// Where a redemption comes from: its failures count towards that channel's breaker.
enum VoucherRedemptionChannel: String, Decodable {
    case api, portal, ivr, ussd, retail
    case customerService = "customer_service"
}

struct VoucherRedemptionRequest: StrictlyDecodable {
    let pin: String
    let serial: String?
    let channel: VoucherRedemptionChannel?
    /// Who is redeeming behind the API key (the end user's IP address, a USSD session): counted on its own.
    let client: String?
    static let allowedFields: [String: Set<String>] = ["": ["pin", "serial", "channel", "client"]]
}

struct VoucherRedemptionOutput: Encodable {
    let serial: String
    let batchId: Int64
    let msisdn: String
    let credited: MoneyOutput
    /// The catalog pack granted, for a pack card.
    let pack: String?
    let redeemedAt: String
    let operation: OperationOutput

    init(_ redemption: VoucherRedemption) {
        serial = String(redemption.serial)
        batchId = redemption.batchID
        msisdn = redemption.msisdn.e164
        credited = MoneyOutput(redemption.credited)
        pack = redemption.pack
        redeemedAt = RFC3339.format(redemption.redeemedAt)
        operation = OperationOutput(redemption.operation)
    }
}

/// Written by hand like top-up responses (a redemption is as hot a path); the same bytes as JSONEncoder's
/// sorted keys (VoucherAPITests checks).
extension VoucherRedemptionOutput: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("batchId", batchId)
            json.key("credited")
            credited.write(to: &json)
            json.field("msisdn", msisdn)
            json.key("operation")
            operation.write(to: &json)
            json.field("pack", pack)
            json.field("redeemedAt", redeemedAt)
            json.field("serial", serial)
        }
    }
}
