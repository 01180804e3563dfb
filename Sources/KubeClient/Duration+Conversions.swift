import NIOCore

extension Duration {
    /// The duration in seconds, fractions kept.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// The duration in whole nanoseconds (a sub-second timeout never becomes zero).
    public var inNanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

extension TimeAmount {
    /// The same length as a Swift `Duration`, to the nanosecond.
    init(_ duration: Duration) { self = .nanoseconds(duration.inNanoseconds) }
}
