package io.runnel.kafka;

/** A host and port that clients are told to connect to for one listener. */
public record Endpoint(String listenerName, String host, int port) {
}
