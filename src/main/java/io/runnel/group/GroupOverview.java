package io.runnel.group;

/** A group as ListGroups shows it. */
public record GroupOverview(String groupId, String protocolType, String state) {
}
