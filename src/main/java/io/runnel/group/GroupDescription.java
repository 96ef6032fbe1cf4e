package io.runnel.group;

import java.util.List;

/** A group as DescribeGroups shows it: state, protocol and members with their subscriptions and assignments. */
public record GroupDescription(String groupId, String state, String protocolType, String protocol, List<MemberDescription> members) {
    public record MemberDescription(String memberId, String groupInstanceId, String clientId, String clientHost, byte[] metadata,
                                    byte[] assignment) {
    }
}
