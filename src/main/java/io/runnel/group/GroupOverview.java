package io.runnel.group;

/** A group as ListGroups shows it; type is "classic" or "consumer" (KIP-848). */
public record GroupOverview(String groupId, String protocolType, String state, String type) {
}
