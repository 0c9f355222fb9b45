import NIOCore

/// The fields shared by `submit_sm` and `deliver_sm` (SMPP 3.4 §4.4.1 and §4.6.1).
public struct SMPPShortMessage: Sendable, Hashable {
    public var serviceType: String = ""
    public var sourceAddressTON: UInt8 = 0
    public var sourceAddressNPI: UInt8 = 0
    public var sourceAddress: String = ""
    public var destinationAddressTON: UInt8 = 1
    public var destinationAddressNPI: UInt8 = 1
    public var destinationAddress: String = ""
    public var esmClass: UInt8 = 0
    public var protocolID: UInt8 = 0
    public var priorityFlag: UInt8 = 0
    public var scheduleDeliveryTime: String = ""
    public var validityPeriod: String = ""
    public var registeredDelivery: UInt8 = 0
    public var replaceIfPresent: UInt8 = 0
    public var dataCoding: UInt8 = 0
    public var defaultMessageID: UInt8 = 0
    public var shortMessage: [UInt8] = []
    public var tlvs: [SMPPTLV] = []

    public init() {}

    /// esm_class bit 6: the short message starts with a user data header.
    public static let udhIndicator: UInt8 = 0x40
    /// esm_class message type for an SMSC delivery receipt (bits 2–5 = 0001).
    public static let deliveryReceiptType: UInt8 = 0x04

    public var isDeliveryReceipt: Bool { esmClass & 0x3C == Self.deliveryReceiptType }
}

/// The parameters of `bind_transceiver` (SMPP 3.4 §4.1.5).
public struct SMPPBind: Sendable, Hashable {
    public var systemID: String
    public var password: String
    public var systemType: String
    public var interfaceVersion: UInt8 = 0x34
    public var addressTON: UInt8 = 0
    public var addressNPI: UInt8 = 0
    public var addressRange: String = ""

    public init(systemID: String, password: String, systemType: String = "") {
        self.systemID = systemID
        self.password = password
        self.systemType = systemType
    }
}

/// One SMPP 3.4 protocol data unit: the 16-octet header and the body of the operations this ESME uses.
public struct SMPPPDU: Sendable, Hashable {
    /// What the PDU is, with the body each operation carries.
    public enum Body: Sendable, Hashable {
        case bindTransceiver(SMPPBind)
        case bindTransceiverResp(systemID: String, tlvs: [SMPPTLV])
        case enquireLink
        case enquireLinkResp
        case submitSM(SMPPShortMessage)
        case submitSMResp(messageID: String)
        case deliverSM(SMPPShortMessage)
        case deliverSMResp(messageID: String)
        case unbind
        case unbindResp
        case genericNack
        /// Any other operation, kept raw so it can be answered with generic_nack.
        case other(commandID: UInt32, body: [UInt8])
    }

    public var status: SMPPCommandStatus
    public var sequenceNumber: UInt32
    public var body: Body

    public init(_ body: Body, sequenceNumber: UInt32, status: SMPPCommandStatus = .ok) {
        self.body = body
        self.sequenceNumber = sequenceNumber
        self.status = status
    }

    public static let headerLength = 16
    /// Far above any PDU this ESME exchanges; a larger length means the stream is out of step.
    public static let maximumLength = 64 * 1024

    public var commandID: UInt32 {
        switch body {
        case .bindTransceiver: 0x0000_0009
        case .bindTransceiverResp: 0x8000_0009
        case .enquireLink: 0x0000_0015
        case .enquireLinkResp: 0x8000_0015
        case .submitSM: 0x0000_0004
        case .submitSMResp: 0x8000_0004
        case .deliverSM: 0x0000_0005
        case .deliverSMResp: 0x8000_0005
        case .unbind: 0x0000_0006
        case .unbindResp: 0x8000_0006
        case .genericNack: 0x8000_0000
        case .other(let commandID, _): commandID
        }
    }

    /// Whether this PDU answers a request (command_id has the response bit set).
    public var isResponse: Bool { commandID & 0x8000_0000 != 0 }
}

/// Why bytes could not be read as a PDU.
public enum SMPPDecodingError: Error, Sendable, Hashable {
    case invalidCommandLength(UInt32)
    case missingNul(field: String)
    case fieldTooLong(field: String, maximum: Int)
    case truncatedBody(command: UInt32)
    case truncatedTLV
}

extension SMPPPDU {
    /// Appends the PDU, header included, to the buffer.
    public func encode(into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))  // command_length, patched below
        buffer.writeInteger(commandID)
        buffer.writeInteger(status.rawValue)
        buffer.writeInteger(sequenceNumber)
        switch body {
        case .bindTransceiver(let bind):
            buffer.writeCOctetString(bind.systemID)
            buffer.writeCOctetString(bind.password)
            buffer.writeCOctetString(bind.systemType)
            buffer.writeInteger(bind.interfaceVersion)
            buffer.writeInteger(bind.addressTON)
            buffer.writeInteger(bind.addressNPI)
            buffer.writeCOctetString(bind.addressRange)
        case .bindTransceiverResp(let systemID, let tlvs):
            buffer.writeCOctetString(systemID)
            buffer.writeTLVs(tlvs)
        case .submitSM(let message), .deliverSM(let message):
            buffer.writeShortMessage(message)
        case .submitSMResp(let messageID), .deliverSMResp(let messageID):
            buffer.writeCOctetString(messageID)
        case .enquireLink, .enquireLinkResp, .unbind, .unbindResp, .genericNack:
            break
        case .other(_, let body):
            buffer.writeBytes(body)
        }
        buffer.setInteger(UInt32(buffer.writerIndex - start), at: start)
    }

    /// Reads one PDU from the front of the buffer; nil (and nothing consumed) while it is incomplete.
    public static func decode(from buffer: inout ByteBuffer) throws(SMPPDecodingError) -> SMPPPDU? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= headerLength, length <= maximumLength else { throw .invalidCommandLength(length) }
        guard buffer.readableBytes >= Int(length) else { return nil }
        var frame = buffer.readSlice(length: Int(length))!
        _ = frame.readInteger(as: UInt32.self)
        let commandID = frame.readInteger(as: UInt32.self)!
        let status = SMPPCommandStatus(rawValue: frame.readInteger(as: UInt32.self)!)
        let sequenceNumber = frame.readInteger(as: UInt32.self)!
        let body: Body
        switch commandID {
        case 0x0000_0009:
            var bind = SMPPBind(
                systemID: try frame.readCOctetString("system_id", maximum: 16),
                password: try frame.readCOctetString("password", maximum: 9),
                systemType: try frame.readCOctetString("system_type", maximum: 13))
            guard let version = frame.readInteger(as: UInt8.self), let ton = frame.readInteger(as: UInt8.self),
                let npi = frame.readInteger(as: UInt8.self)
            else { throw .truncatedBody(command: commandID) }
            bind.interfaceVersion = version
            bind.addressTON = ton
            bind.addressNPI = npi
            bind.addressRange = try frame.readCOctetString("address_range", maximum: 41)
            body = .bindTransceiver(bind)
        case 0x8000_0009:
            // A failed bind may come back with an empty body. Some SMSCs send a 16-character system_id,
            // one past the specified 15; refusing their bind_resp over it would help nobody.
            let systemID = frame.readableBytes > 0 ? try frame.readCOctetString("system_id", maximum: 66) : ""
            body = .bindTransceiverResp(systemID: systemID, tlvs: try frame.readTLVs())
        case 0x0000_0004:
            body = .submitSM(try frame.readShortMessage(commandID: commandID))
        case 0x0000_0005:
            body = .deliverSM(try frame.readShortMessage(commandID: commandID))
        case 0x8000_0004:
            body = .submitSMResp(
                messageID: frame.readableBytes > 0 ? try frame.readCOctetString("message_id", maximum: 65) : "")
        case 0x8000_0005:
            body = .deliverSMResp(
                messageID: frame.readableBytes > 0 ? try frame.readCOctetString("message_id", maximum: 65) : "")
        case 0x0000_0015: body = .enquireLink
        case 0x8000_0015: body = .enquireLinkResp
        case 0x0000_0006: body = .unbind
        case 0x8000_0006: body = .unbindResp
        case 0x8000_0000: body = .genericNack
        default:
            body = .other(commandID: commandID, body: frame.readBytes(length: frame.readableBytes) ?? [])
        }
        return SMPPPDU(body, sequenceNumber: sequenceNumber, status: status)
    }
}

extension ByteBuffer {
    mutating func writeCOctetString(_ string: String) {
        writeString(string)
        writeInteger(UInt8(0))
    }

    /// `maximum` counts the terminating NUL, as the field sizes in the specification do.
    mutating func readCOctetString(_ field: String, maximum: Int) throws(SMPPDecodingError) -> String {
        guard let view = readableBytesView.firstIndex(of: 0) else { throw .missingNul(field: field) }
        let length = view - readableBytesView.startIndex
        guard length < maximum else { throw .fieldTooLong(field: field, maximum: maximum) }
        let string = readString(length: length) ?? ""
        moveReaderIndex(forwardBy: 1)
        return string
    }

    mutating func writeTLVs(_ tlvs: [SMPPTLV]) {
        for tlv in tlvs {
            writeInteger(tlv.tag)
            writeInteger(UInt16(tlv.value.count))
            writeBytes(tlv.value)
        }
    }

    mutating func readTLVs() throws(SMPPDecodingError) -> [SMPPTLV] {
        var tlvs: [SMPPTLV] = []
        while readableBytes > 0 {
            guard let tag = readInteger(as: UInt16.self), let length = readInteger(as: UInt16.self),
                let value = readBytes(length: Int(length))
            else { throw .truncatedTLV }
            tlvs.append(SMPPTLV(tag: tag, value: value))
        }
        return tlvs
    }

    mutating func writeShortMessage(_ message: SMPPShortMessage) {
        writeCOctetString(message.serviceType)
        writeInteger(message.sourceAddressTON)
        writeInteger(message.sourceAddressNPI)
        writeCOctetString(message.sourceAddress)
        writeInteger(message.destinationAddressTON)
        writeInteger(message.destinationAddressNPI)
        writeCOctetString(message.destinationAddress)
        writeInteger(message.esmClass)
        writeInteger(message.protocolID)
        writeInteger(message.priorityFlag)
        writeCOctetString(message.scheduleDeliveryTime)
        writeCOctetString(message.validityPeriod)
        writeInteger(message.registeredDelivery)
        writeInteger(message.replaceIfPresent)
        writeInteger(message.dataCoding)
        writeInteger(message.defaultMessageID)
        writeInteger(UInt8(message.shortMessage.count))
        writeBytes(message.shortMessage)
        writeTLVs(message.tlvs)
    }

    mutating func readShortMessage(commandID: UInt32) throws(SMPPDecodingError) -> SMPPShortMessage {
        var message = SMPPShortMessage()
        message.serviceType = try readCOctetString("service_type", maximum: 6)
        guard let sourceTON = readInteger(as: UInt8.self), let sourceNPI = readInteger(as: UInt8.self) else {
            throw .truncatedBody(command: commandID)
        }
        message.sourceAddressTON = sourceTON
        message.sourceAddressNPI = sourceNPI
        message.sourceAddress = try readCOctetString("source_addr", maximum: 21)
        guard let destinationTON = readInteger(as: UInt8.self), let destinationNPI = readInteger(as: UInt8.self)
        else { throw .truncatedBody(command: commandID) }
        message.destinationAddressTON = destinationTON
        message.destinationAddressNPI = destinationNPI
        message.destinationAddress = try readCOctetString("destination_addr", maximum: 21)
        guard let esmClass = readInteger(as: UInt8.self), let protocolID = readInteger(as: UInt8.self),
            let priority = readInteger(as: UInt8.self)
        else { throw .truncatedBody(command: commandID) }
        message.esmClass = esmClass
        message.protocolID = protocolID
        message.priorityFlag = priority
        message.scheduleDeliveryTime = try readCOctetString("schedule_delivery_time", maximum: 17)
        message.validityPeriod = try readCOctetString("validity_period", maximum: 17)
        guard let registered = readInteger(as: UInt8.self), let replace = readInteger(as: UInt8.self),
            let coding = readInteger(as: UInt8.self), let defaultID = readInteger(as: UInt8.self),
            let length = readInteger(as: UInt8.self), let shortMessage = readBytes(length: Int(length))
        else { throw .truncatedBody(command: commandID) }
        message.registeredDelivery = registered
        message.replaceIfPresent = replace
        message.dataCoding = coding
        message.defaultMessageID = defaultID
        message.shortMessage = shortMessage
        message.tlvs = try readTLVs()
        return message
    }
}
