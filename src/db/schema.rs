//! Diesel's view of the tables created by `migrations/`.

diesel::table! {
    app_settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    subscribers (id) {
        id -> BigInt,
        email -> Text,
        name -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
        unsubscribed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    confirmation_tokens (token_hash) {
        token_hash -> Text,
        subscriber_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outgoing_emails (id) {
        id -> BigInt,
        kind -> Text,
        subscriber_id -> Nullable<BigInt>,
        recipient -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(confirmation_tokens -> subscribers (subscriber_id));
diesel::joinable!(outgoing_emails -> subscribers (subscriber_id));
diesel::allow_tables_to_appear_in_same_query!(
    app_settings,
    subscribers,
    confirmation_tokens,
    outgoing_emails
);
