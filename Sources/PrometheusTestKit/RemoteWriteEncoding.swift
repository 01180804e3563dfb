import Foundation

/// The remote-write 1.0 wire format: a protobuf `prometheus.WriteRequest`, snappy-compressed
/// (block format). Written by hand: three messages and literal-only snappy blocks need no library.
enum RemoteWriteEncoding {
    static func body(_ series: [TimeSeries]) -> Data {
        var request = Data()
        for s in series {
            var message = Data()
            // Labels sorted by name, as the receiver expects.
            for (name, value) in s.labels.sorted(by: { $0.key < $1.key }) {
                var label = Data()
                field(1, string: name, into: &label)
                field(2, string: value, into: &label)
                field(1, bytes: label, into: &message)
            }
            for sample in s.samples {
                var encoded = Data([0x09]) // field 1, 64-bit
                withUnsafeBytes(of: sample.value.bitPattern.littleEndian) { encoded.append(contentsOf: $0) }
                encoded.append(0x10) // field 2, varint
                varint(UInt64(bitPattern: sample.timestamp), into: &encoded)
                field(2, bytes: encoded, into: &message)
            }
            field(1, bytes: message, into: &request)
        }
        return snappy(request)
    }

    static func field(_ number: UInt64, string: String, into out: inout Data) {
        field(number, bytes: Data(string.utf8), into: &out)
    }

    static func field(_ number: UInt64, bytes: Data, into out: inout Data) {
        varint(number << 3 | 2, into: &out)
        varint(UInt64(bytes.count), into: &out)
        out.append(bytes)
    }

    static func varint(_ value: UInt64, into out: inout Data) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Snappy block format with literals only: valid input for any decoder, just not smaller.
    static func snappy(_ input: Data) -> Data {
        var out = Data()
        varint(UInt64(input.count), into: &out)
        var offset = input.startIndex
        while offset < input.endIndex {
            let chunk = input[offset..<min(offset + 65536, input.endIndex)]
            let n = chunk.count - 1
            if n < 60 {
                out.append(UInt8(n << 2))
            } else if n < 256 {
                out.append(60 << 2)
                out.append(UInt8(n))
            } else {
                out.append(61 << 2)
                out.append(UInt8(n & 0xff))
                out.append(UInt8(n >> 8))
            }
            out.append(chunk)
            offset = chunk.endIndex
        }
        return out
    }
}
