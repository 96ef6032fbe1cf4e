package io.runnel.transaction;

/**
 * {@link TransactionsTest} with the broker finalizing {@code transaction.version=1}: kafka-clients 4.4 then uses
 * transactions version 1 (AddPartitionsToTxn from the client, one epoch for every transaction, partition verification
 * of KIP-890 part 1), as Kafka 3 clients do.
 */
class TransactionsVersion1Test extends TransactionsTest {
    @Override
    protected int transactionVersion() {
        return 1;
    }
}
