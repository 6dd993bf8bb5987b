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
        hard_bounces -> Integer,
        language -> Nullable<Text>,
    }
}

diesel::table! {
    confirmation_tokens (token_hash) {
        token_hash -> Text,
        subscriber_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        subscriber_name -> Nullable<Text>,
        subscriber_language -> Nullable<Text>,
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
        locked_by -> Nullable<Text>,
        subscriber_name -> Nullable<Text>,
        subscriber_language -> Nullable<Text>,
    }
}

diesel::table! {
    digest_queue_left (digest_id) {
        digest_id -> BigInt,
        readers -> Integer,
    }
}

diesel::table! {
    digests (id) {
        id -> BigInt,
        subject -> Text,
        html_body -> Text,
        text_body -> Text,
        status -> Text,
        article_count -> Integer,
        recipient_count -> Integer,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        sent_count -> Integer,
        failed_count -> Integer,
        skipped_count -> Integer,
        subject_override -> Nullable<Text>,
        queue_cursor -> Nullable<BigInt>,
        queue_end -> Nullable<BigInt>,
        newsletter_id -> BigInt,
    }
}

diesel::table! {
    newsletters (id) {
        id -> BigInt,
        slug -> Text,
        name -> Nullable<Text>,
        description -> Text,
        schedule -> Nullable<Text>,
        sections -> Text,
        public -> Bool,
        preselected -> Bool,
        archived -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        language -> Nullable<Text>,
    }
}

diesel::table! {
    digest_translations (digest_id, language) {
        digest_id -> BigInt,
        language -> Text,
        subject -> Text,
        html_body -> Text,
        text_body -> Text,
    }
}

diesel::table! {
    subscriptions (newsletter_id, subscriber_id) {
        newsletter_id -> BigInt,
        subscriber_id -> BigInt,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    articles (id) {
        id -> BigInt,
        url -> Text,
        guid -> Nullable<Text>,
        title -> Text,
        summary -> Nullable<Text>,
        body -> Nullable<Text>,
        author -> Nullable<Text>,
        published_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        digest_id -> Nullable<BigInt>,
        excluded_at -> Nullable<Timestamp>,
        story_order -> Nullable<Integer>,
        image_url -> Nullable<Text>,
        sections -> Text,
    }
}

diesel::table! {
    feeds (id) {
        id -> BigInt,
        url -> Text,
        section -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    newsletter_articles (newsletter_id, article_id) {
        newsletter_id -> BigInt,
        article_id -> BigInt,
        digest_id -> BigInt,
    }
}

diesel::table! {
    admin_sessions (id_hash) {
        id_hash -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    deliveries (digest_id, subscriber_id) {
        digest_id -> BigInt,
        subscriber_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
    }
}

diesel::table! {
    feedback_events (id) {
        id -> BigInt,
        subscriber_id -> BigInt,
        digest_id -> Nullable<BigInt>,
        kind -> Text,
        detail -> Text,
        source -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(articles -> digests (digest_id));
diesel::joinable!(feedback_events -> subscribers (subscriber_id));
diesel::joinable!(deliveries -> digests (digest_id));
diesel::joinable!(digest_translations -> digests (digest_id));
diesel::joinable!(deliveries -> subscribers (subscriber_id));
diesel::joinable!(confirmation_tokens -> subscribers (subscriber_id));
diesel::joinable!(outgoing_emails -> subscribers (subscriber_id));
diesel::joinable!(subscriptions -> subscribers (subscriber_id));
diesel::joinable!(subscriptions -> newsletters (newsletter_id));
diesel::joinable!(digests -> newsletters (newsletter_id));
diesel::joinable!(newsletter_articles -> articles (article_id));
diesel::joinable!(newsletter_articles -> newsletters (newsletter_id));
diesel::allow_tables_to_appear_in_same_query!(
    app_settings,
    subscribers,
    confirmation_tokens,
    outgoing_emails,
    digests,
    digest_translations,
    articles,
    deliveries,
    admin_sessions,
    feedback_events,
    newsletters,
    subscriptions,
    feeds,
    newsletter_articles,
);
