//! Word lists the generator draws realistic content from: people, companies,
//! US cities with their real states, postal codes and area codes, and the
//! trade vocabulary of an HVAC / plumbing / electrical service business.
//!
//! Every clean value built from these lists is plain ASCII without double
//! quotes, angle brackets or line breaks, so that clean records can never be
//! mistaken for the unicode, HTML or CSV-special-character dirt kinds.

/// A US city with the facts that must agree with each other in an address.
#[derive(Debug, Clone, Copy)]
pub struct City {
    pub name: &'static str,
    /// Two-letter USPS code.
    pub state: &'static str,
    /// A real five-digit postal code of the city.
    pub postal_code: &'static str,
    /// A real telephone area code of the city.
    pub area_code: &'static str,
    pub latitude: f64,
    pub longitude: f64,
}

const fn city(
    name: &'static str,
    state: &'static str,
    postal_code: &'static str,
    area_code: &'static str,
    latitude: f64,
    longitude: f64,
) -> City {
    City {
        name,
        state,
        postal_code,
        area_code,
        latitude,
        longitude,
    }
}

/// The service company is in Chicago, so its customers cluster in the
/// Midwest; the first entries (the Chicago area) are drawn more often.
/// No postal code here starts with 0: leading-zero codes are dirt.
pub const CITIES: &[City] = &[
    city("Chicago", "IL", "60601", "312", 41.88570, -87.62260),
    city("Chicago", "IL", "60611", "312", 41.89480, -87.61950),
    city("Chicago", "IL", "60607", "312", 41.87490, -87.65120),
    city("Evanston", "IL", "60201", "847", 42.04110, -87.69010),
    city("Naperville", "IL", "60540", "630", 41.76400, -88.14600),
    city("Aurora", "IL", "60505", "630", 41.75830, -88.29010),
    city("Joliet", "IL", "60432", "815", 41.53090, -88.07300),
    city("Schaumburg", "IL", "60173", "847", 42.05800, -88.04750),
    city("Oak Brook", "IL", "60523", "630", 41.83390, -87.95340),
    city("Elgin", "IL", "60120", "847", 42.03720, -88.28110),
    city("Rockford", "IL", "61101", "815", 42.27110, -89.09400),
    city("Peoria", "IL", "61602", "309", 40.69360, -89.58900),
    city("Springfield", "IL", "62701", "217", 39.80170, -89.64370),
    city("Gary", "IN", "46402", "219", 41.59340, -87.34640),
    city("Milwaukee", "WI", "53202", "414", 43.04190, -87.90650),
    city("Madison", "WI", "53703", "608", 43.07470, -89.38420),
    city("Indianapolis", "IN", "46204", "317", 39.76840, -86.15810),
    city("Fort Wayne", "IN", "46802", "260", 41.07930, -85.13940),
    city("Detroit", "MI", "48226", "313", 42.33140, -83.04580),
    city("Grand Rapids", "MI", "49503", "616", 42.96340, -85.66810),
    city("Columbus", "OH", "43215", "614", 39.96120, -82.99880),
    city("Cleveland", "OH", "44113", "216", 41.49930, -81.69440),
    city("Cincinnati", "OH", "45202", "513", 39.10310, -84.51200),
    city("Toledo", "OH", "43604", "419", 41.65280, -83.53780),
    city("Pittsburgh", "PA", "15222", "412", 40.44060, -79.99590),
    city("Philadelphia", "PA", "19103", "215", 39.95260, -75.16520),
    city("Baltimore", "MD", "21201", "410", 39.29040, -76.61220),
    city("Minneapolis", "MN", "55401", "612", 44.97780, -93.26500),
    city("St. Paul", "MN", "55102", "651", 44.95370, -93.09000),
    city("Des Moines", "IA", "50309", "515", 41.58680, -93.62500),
    city("Omaha", "NE", "68102", "402", 41.25650, -95.93450),
    city("Lincoln", "NE", "68508", "402", 40.81360, -96.70260),
    city("St. Louis", "MO", "63101", "314", 38.62700, -90.19940),
    city("Kansas City", "MO", "64105", "816", 39.09970, -94.57860),
    city("Wichita", "KS", "67202", "316", 37.68720, -97.33010),
    city("Louisville", "KY", "40202", "502", 38.25270, -85.75850),
    city("Nashville", "TN", "37203", "615", 36.16270, -86.78160),
    city("Memphis", "TN", "38103", "901", 35.14950, -90.04900),
    city("Atlanta", "GA", "30303", "404", 33.74900, -84.38800),
    city("Charlotte", "NC", "28202", "704", 35.22710, -80.84310),
    city("Raleigh", "NC", "27601", "919", 35.77960, -78.63820),
    city("Tampa", "FL", "33602", "813", 27.95060, -82.45720),
    city("Orlando", "FL", "32801", "407", 28.53830, -81.37920),
    city("Miami", "FL", "33130", "305", 25.76170, -80.19180),
    city("Birmingham", "AL", "35203", "205", 33.51860, -86.81040),
    city("New Orleans", "LA", "70112", "504", 29.95110, -90.07150),
    city("Little Rock", "AR", "72201", "501", 34.74650, -92.28960),
    city("Oklahoma City", "OK", "73102", "405", 35.46760, -97.51640),
    city("Tulsa", "OK", "74103", "918", 36.15400, -95.99280),
    city("Dallas", "TX", "75201", "214", 32.77670, -96.79700),
    city("Houston", "TX", "77002", "713", 29.76040, -95.36980),
    city("Austin", "TX", "78701", "512", 30.26720, -97.74310),
    city("San Antonio", "TX", "78205", "210", 29.42410, -98.49360),
    city("Denver", "CO", "80202", "303", 39.73920, -104.99030),
    city("Salt Lake City", "UT", "84111", "801", 40.76080, -111.89100),
    city("Phoenix", "AZ", "85004", "602", 33.44840, -112.07400),
    city("Albuquerque", "NM", "87102", "505", 35.08440, -106.65040),
    city("Las Vegas", "NV", "89101", "702", 36.16990, -115.13980),
    city("Los Angeles", "CA", "90012", "213", 34.05220, -118.24370),
    city("San Diego", "CA", "92101", "619", 32.71570, -117.16110),
    city("San Francisco", "CA", "94103", "415", 37.77490, -122.41940),
    city("Sacramento", "CA", "95814", "916", 38.58160, -121.49440),
    city("Portland", "OR", "97204", "503", 45.51520, -122.67840),
    city("Seattle", "WA", "98101", "206", 47.60620, -122.33210),
    city("Boise", "ID", "83702", "208", 43.61500, -116.20230),
    city("Sioux Falls", "SD", "57104", "605", 43.54460, -96.73110),
    city("Fargo", "ND", "58102", "701", 46.87720, -96.78980),
];

/// How many of the first [`CITIES`] form the Chicago area, drawn about half
/// of the time.
pub const HOME_CITIES: usize = 13;

/// New England cities whose real postal codes start with 0: only the
/// `postal_code_leading_zero` dirt uses them.
pub const LEADING_ZERO_CITIES: &[City] = &[
    city("Boston", "MA", "02108", "617", 42.35750, -71.06390),
    city("Cambridge", "MA", "02139", "617", 42.36500, -71.10400),
    city("Worcester", "MA", "01608", "508", 42.26260, -71.80230),
    city("Springfield", "MA", "01103", "413", 42.10150, -72.58980),
    city("Providence", "RI", "02903", "401", 41.82400, -71.41280),
    city("Hartford", "CT", "06103", "860", 41.76580, -72.67340),
    city("New Haven", "CT", "06510", "203", 41.30830, -72.92790),
    city("Stamford", "CT", "06901", "203", 41.05340, -73.53870),
    city("Portland", "ME", "04101", "207", 43.65910, -70.25680),
    city("Bangor", "ME", "04401", "207", 44.80120, -68.77780),
    city("Burlington", "VT", "05401", "802", 44.47590, -73.21210),
    city("Manchester", "NH", "03101", "603", 42.99560, -71.45480),
    city("Concord", "NH", "03301", "603", 43.20810, -71.53760),
];

/// The spelled-out name of a state code used in [`CITIES`] or
/// [`LEADING_ZERO_CITIES`].
pub fn state_name(code: &str) -> &'static str {
    match code {
        "AL" => "Alabama",
        "AR" => "Arkansas",
        "AZ" => "Arizona",
        "CA" => "California",
        "CO" => "Colorado",
        "CT" => "Connecticut",
        "FL" => "Florida",
        "GA" => "Georgia",
        "IA" => "Iowa",
        "ID" => "Idaho",
        "IL" => "Illinois",
        "IN" => "Indiana",
        "KS" => "Kansas",
        "KY" => "Kentucky",
        "LA" => "Louisiana",
        "MA" => "Massachusetts",
        "MD" => "Maryland",
        "ME" => "Maine",
        "MI" => "Michigan",
        "MN" => "Minnesota",
        "MO" => "Missouri",
        "NC" => "North Carolina",
        "ND" => "North Dakota",
        "NE" => "Nebraska",
        "NH" => "New Hampshire",
        "NM" => "New Mexico",
        "NV" => "Nevada",
        "OH" => "Ohio",
        "OK" => "Oklahoma",
        "OR" => "Oregon",
        "PA" => "Pennsylvania",
        "RI" => "Rhode Island",
        "SD" => "South Dakota",
        "TN" => "Tennessee",
        "TX" => "Texas",
        "UT" => "Utah",
        "VT" => "Vermont",
        "WA" => "Washington",
        "WI" => "Wisconsin",
        _ => "Unknown",
    }
}

#[rustfmt::skip]
pub const STREET_NAMES: &[&str] = &[
    "Michigan", "Wabash", "State", "Clark", "LaSalle", "Wacker", "Madison", "Monroe", "Adams",
    "Jackson", "Randolph", "Lake", "Halsted", "Ashland", "Western", "Damen", "Cicero", "Pulaski",
    "Roosevelt", "Ogden", "Archer", "Division", "Belmont", "Fullerton", "Diversey", "Irving Park",
    "Lawrence", "Touhy", "Devon", "Oak", "Maple", "Elm", "Cedar", "Pine", "Walnut", "Chestnut",
    "Hickory", "Willow", "Park", "Main", "Church", "Mill", "River", "Prairie", "Meadow", "Sunset",
    "Hillside", "Washington", "Lincoln", "Jefferson", "Franklin", "Grant", "Harrison", "Cleveland",
    "Industrial", "Commerce", "Enterprise", "Corporate", "Technology", "Business Center", "Airport",
    "Railroad", "Canal", "Harbor", "Lakeview", "Northpoint", "Fairview",
];

pub const STREET_SUFFIXES: &[&str] = &["St", "Ave", "Blvd", "Rd", "Dr", "Pkwy", "Ln", "Ct", "Way"];
pub const STREET_DIRECTIONS: &[&str] = &["", "", "", "N ", "S ", "E ", "W "];
#[rustfmt::skip]
pub const SECOND_LINES: &[&str] = &[
    "Suite 100", "Suite 200", "Suite 210", "Suite 300", "Suite 450", "Unit B", "Unit 4", "Floor 2",
    "Floor 12", "Building C", "Dock 3", "Rear Entrance",
];

#[rustfmt::skip]
pub const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
    "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Dorothy", "Jason", "Rebecca",
    "Edward", "Sharon", "Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob", "Amy", "Gary", "Kathleen",
    "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Brenda", "Stephen", "Emma", "Larry",
    "Anna", "Justin", "Pamela", "Scott", "Nicole", "Brandon", "Samantha", "Benjamin", "Katherine",
    "Samuel", "Christine", "Gregory", "Helen", "Alexander", "Debra", "Patrick", "Rachel", "Frank",
    "Carolyn", "Raymond", "Janet", "Jack", "Maria", "Dennis", "Catherine", "Jerry", "Heather",
    "Tyler", "Diane", "Aaron", "Olivia", "Jose", "Julie", "Adam", "Joyce", "Nathan", "Victoria",
    "Henry", "Ruth", "Zachary", "Virginia", "Douglas", "Lauren", "Peter", "Kelly", "Kyle",
    "Christina", "Noah", "Joan", "Ethan", "Evelyn", "Jeremy", "Judith", "Walter", "Andrea",
    "Christian", "Hannah", "Keith", "Megan", "Roger", "Cheryl", "Terry", "Jacqueline", "Austin",
    "Martha", "Sean", "Madison", "Gerald", "Teresa", "Carl", "Gloria", "Harold", "Sara", "Dylan",
    "Janice", "Arthur", "Ann", "Lawrence", "Kathryn", "Jordan", "Abigail", "Jesse", "Sophia",
    "Bryan", "Frances", "Billy", "Jean", "Bruce", "Alice", "Gabriel", "Judy", "Joe", "Isabella",
    "Logan", "Julia", "Alan", "Grace", "Juan", "Amber", "Albert", "Denise", "Willie", "Danielle",
    "Elijah", "Marilyn", "Wayne", "Beverly", "Randy", "Charlotte", "Vincent", "Natalie", "Mason",
    "Theresa", "Roy", "Diana", "Ralph", "Brittany", "Bobby", "Doris", "Russell", "Kayla", "Bradley",
    "Alexis", "Philip", "Lori", "Eugene", "Marie", "Luis", "Tanya", "Marcus", "Rosa", "Derek",
    "Yolanda", "Darnell", "Keisha", "Tomasz", "Agnieszka",
];

#[rustfmt::skip]
pub const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook",
    "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
    "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood",
    "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry",
    "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher",
    "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
    "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera",
    "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro",
    "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy",
    "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford",
    "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason",
    "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd",
    "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza",
    "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne",
    "Grant", "Dunn", "Kowalski", "Nowak", "Lindqvist", "Novak", "O'Brien", "O'Connor", "Schultz",
    "Becker", "Hoffman", "Kaminski", "Larson", "Hansen",
];

/// The first word of a customer's company name: surnames and local place
/// names, each usable as part of a domain name.
#[rustfmt::skip]
pub const COMPANY_HEADS: &[&str] = &[
    "Lakeshore", "Prairie", "Riverside", "Summit", "Northfield", "Westbrook", "Oakridge",
    "Maplewood", "Cedar Creek", "Pinecrest", "Fox Valley", "Heartland", "Midway", "Great Lakes",
    "Lincoln Park", "Wrigley", "Union Station", "Gold Coast", "Bridgeport", "Pilsen", "Hyde Park",
    "Ravenswood", "Andersonville", "Logan Square", "Wicker Park", "Bucktown", "Irving", "Edgewater",
    "Rogers Park", "Beverly", "Morgan Park", "Garfield", "Douglas", "Calumet", "Kenwood",
    "Woodlawn", "Austin", "Belmont", "Harbor Point", "Crystal Lake", "Lake Forest", "Highland",
    "Glenview", "Skokie", "Arlington", "Wheaton", "Downers Grove", "Hinsdale", "Elmhurst",
    "Lombard", "Oak Lawn", "Orland", "Tinley", "Frankfort", "Lockport", "Plainfield", "Oswego",
    "Geneva", "Batavia", "St. Charles", "Barrington", "Palatine", "Wheeling", "Libertyville",
    "Gurnee", "Waukegan", "Kenosha", "Racine", "Lakeview", "Bluestem", "Ironwood", "Copperline",
    "Silverleaf", "Redwood", "Bayside", "Sunrise", "Keystone", "Cornerstone", "Landmark", "Pioneer",
    "Frontier", "Liberty", "Patriot", "Eagle", "Falcon", "Hawthorne", "Kingsley", "Ashford",
    "Brookfield", "Carlisle", "Danforth", "Easton", "Fairmont", "Greenfield", "Hamilton",
    "Jefferson", "Kensington", "Langley", "Marlowe", "Newbury", "Oakmont", "Preston", "Quincy",
    "Rutherford", "Sheffield", "Thornton", "Upton", "Vernon", "Whitmore", "Yorkshire", "Abbott",
    "Baxter", "Caldwell", "Donovan", "Ellison", "Fitzgerald", "Gallagher", "Hartley", "Ingram",
    "Jennings", "Keller", "Lambert", "Maddox", "Norton", "Osborne", "Pearson", "Quinlan", "Ramsey",
    "Sawyer", "Thatcher", "Vaughn", "Whitaker", "Bradford", "Chandler", "Dalton", "Emerson",
    "Forrester", "Garrison", "Holloway", "Irwin", "Jamison", "Kirkland", "Lowell", "Mercer", "Nash",
    "Oliver", "Prescott", "Radcliffe", "Stanton", "Tate", "Underwood", "Vance", "Winslow", "Ashby",
    "Blackwell", "Crowley", "Dempsey", "Eastwood", "Fenwick", "Goodwin", "Harlow", "Kendall",
    "Lockhart", "Monroe", "Nolan", "Pemberton", "Redmond", "Sterling", "Townsend", "Wakefield",
    "Ainsley", "Bishop", "Conway", "Drake", "Foley", "Grady", "Hughes", "Kearney", "Lynch",
    "Malone", "Nugent", "O'Malley", "Quigley", "Riordan", "Sheridan", "Tierney", "Whelan",
    "Kowalczyk", "Wozniak", "Lindgren", "Bergstrom", "Halvorsen", "Johansen", "Nielsen", "Sorensen",
    "Andersen", "Larkin", "Mackey", "Pruitt", "Rollins", "Sutton", "Tillman", "Wilder", "Yates",
    "Zimmerman", "Archer", "Bauer", "Carver", "Decker", "Fleming", "Gentry", "Hobbs", "Jarvis",
    "Kline", "Lawson", "Morrow", "Nixon", "Page", "Rhodes", "Sloan", "Talbot", "Vickers", "Walsh",
    "Atlas", "Beacon", "Compass", "Crescent", "Evergreen", "Granite", "Horizon", "Juniper",
    "Meridian", "Northstar", "Orchard", "Pinnacle", "Quarry", "Sequoia", "Timberline", "Vista",
    "Willowbrook", "Aspen", "Birchwood", "Clearwater", "Driftwood", "Elmwood", "Foxglove",
    "Glenwood", "Hollybrook", "Ivy Lane", "Kingfisher", "Larkspur", "Mistwood", "Nightingale",
    "Oakhurst", "Primrose", "Rosewood", "Stonebridge", "Thistle", "Wildflower", "Amberly",
    "Briarwood", "Canterbury", "Dunmore", "Everett", "Foxborough", "Grantham", "Hillcrest",
    "Inverness", "Kingswood", "Lancaster", "Middleton", "Northgate", "Oxford", "Pembroke",
    "Richmond", "Salisbury", "Tremont", "Windsor",
];

/// The business a customer is in: the second part of its company name and
/// the industry it reports in `cf_industry`.
pub const BUSINESS_TYPES: &[(&str, &str)] = &[
    ("Dental", "Healthcare"),
    ("Family Medicine", "Healthcare"),
    ("Veterinary Clinic", "Healthcare"),
    ("Physical Therapy", "Healthcare"),
    ("Senior Living", "Healthcare"),
    ("Pharmacy", "Healthcare"),
    ("Bakery", "Restaurant"),
    ("Bistro", "Restaurant"),
    ("Grill", "Restaurant"),
    ("Pizzeria", "Restaurant"),
    ("Brewing", "Restaurant"),
    ("Coffee Roasters", "Restaurant"),
    ("Catering", "Restaurant"),
    ("Logistics", "Transportation"),
    ("Freight", "Transportation"),
    ("Auto Body", "Automotive"),
    ("Motors", "Automotive"),
    ("Tire and Auto", "Automotive"),
    ("Properties", "Property Management"),
    ("Realty", "Property Management"),
    ("Apartments", "Property Management"),
    ("Property Management", "Property Management"),
    ("Self Storage", "Property Management"),
    ("Manufacturing", "Manufacturing"),
    ("Tool and Die", "Manufacturing"),
    ("Plastics", "Manufacturing"),
    ("Metal Works", "Manufacturing"),
    ("Packaging", "Manufacturing"),
    ("Foods", "Food Processing"),
    ("Meats", "Food Processing"),
    ("Dairy", "Food Processing"),
    ("Hardware", "Retail"),
    ("Market", "Retail"),
    ("Furniture", "Retail"),
    ("Outfitters", "Retail"),
    ("Pet Supply", "Retail"),
    ("Hotel", "Hospitality"),
    ("Inn", "Hospitality"),
    ("Fitness", "Hospitality"),
    ("Academy", "Education"),
    ("Montessori", "Education"),
    ("Learning Center", "Education"),
    ("Community Church", "Nonprofit"),
    ("Law Group", "Professional Services"),
    ("Accounting", "Professional Services"),
    ("Architects", "Professional Services"),
    ("Insurance", "Financial Services"),
    ("Credit Union", "Financial Services"),
    ("Data Center", "Technology"),
    ("Printing", "Manufacturing"),
];

/// Legal or descriptive endings of company names; the second item is what
/// the ending adds to the company's domain name.
pub const COMPANY_SUFFIXES: &[(&str, &str)] = &[
    ("LLC", ""),
    ("Inc.", "inc"),
    ("Co.", "co"),
    ("Corp.", "corp"),
    ("Group", "group"),
    ("Partners", "partners"),
    ("Company", "company"),
    ("Ltd.", "ltd"),
    ("of Chicago", "chicago"),
    ("Holdings", "holdings"),
    ("Associates", "associates"),
    ("Enterprises", "enterprises"),
];

#[rustfmt::skip]
pub const EMAIL_LOCAL_PARTS: &[&str] = &[
    "info", "office", "service", "ap", "billing", "contact", "admin", "facilities", "maintenance",
    "accounts",
];

#[rustfmt::skip]
pub const JOB_TITLES: &[&str] = &[
    "Facilities Manager", "Office Manager", "Property Manager", "Maintenance Supervisor", "Owner",
    "Operations Director", "Store Manager", "Building Engineer", "Accounts Payable Clerk",
    "General Manager", "Chief Engineer", "Plant Manager", "Purchasing Agent", "Administrator",
    "Controller", "Executive Assistant",
];

/// The service company's technicians all have mail here (SPEC: a company
/// domain); personal domains are the `technician_without_user` dirt.
pub const SERVICE_COMPANY_DOMAIN: &str = "lakeshore-service.com";

/// Free-mail providers: a customer whose email is here has no company domain
/// (dirt `free_mail_domain`); technicians with one have no Dataverse user.
#[rustfmt::skip]
pub const FREE_MAIL_DOMAINS: &[&str] = &[
    "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com",
];

#[rustfmt::skip]
pub const TECHNICIAN_SKILLS: &[&str] = &[
    "HVAC", "Refrigeration", "Boilers", "Plumbing", "Backflow", "Water Heaters", "Electrical",
    "Generators", "Controls", "Fire Protection", "Welding", "Kitchen Equipment",
];

/// The three trades; each work order, part and attachment belongs to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trade {
    Hvac,
    Plumbing,
    Electrical,
}

/// What a trade's work orders talk about.
pub struct TradeWords {
    /// Equipment a customer owns and a work order is about.
    pub equipment: &'static [&'static str],
    /// `<equipment> <problem>` reads as a repair summary.
    pub problems: &'static [&'static str],
    /// What a technician found (`Found ...`) and what fixed it (a past-tense
    /// sentence), paired so a description never fixes the wrong thing.
    pub repairs: &'static [(&'static str, &'static str)],
    /// Preventive-maintenance tasks.
    pub pm_tasks: &'static [&'static str],
    /// Manufacturers and model prefixes for equipment records.
    pub makes: &'static [(&'static str, &'static [&'static str])],
}

pub fn trade_words(trade: Trade) -> &'static TradeWords {
    match trade {
        Trade::Hvac => &HVAC,
        Trade::Plumbing => &PLUMBING,
        Trade::Electrical => &ELECTRICAL,
    }
}

#[rustfmt::skip]
const HVAC: TradeWords = TradeWords {
    equipment: &[
        "Rooftop unit", "RTU-2", "Walk-in cooler", "Reach-in freezer", "Boiler", "Split system",
        "Heat pump", "Make-up air unit", "Ice machine", "Chiller", "Furnace", "Exhaust fan",
        "Cooling tower", "VAV box", "Mini-split",
    ],
    problems: &[
        "not cooling", "not heating", "short cycling", "tripping on high pressure",
        "making grinding noise", "leaking water at condensate drain", "frozen evaporator coil",
        "blowing warm air", "will not start", "running constantly", "low refrigerant alarm",
        "thermostat unresponsive", "iced over", "high head pressure",
    ],
    repairs: &[
        ("a failed run capacitor", "Replaced the run capacitor and verified amperage"),
        ("a seized condenser fan motor", "Replaced the condenser fan motor"),
        ("a clogged condensate line", "Cleared the condensate line and added tablets"),
        ("a refrigerant leak at the service valve", "Brazed the leak, pulled vacuum to 500 microns and recharged"),
        ("a dirty condenser coil", "Cleaned the condenser coil"),
        ("a worn blower belt", "Replaced the blower belt and adjusted tension"),
        ("a faulty contactor", "Replaced the contactor"),
        ("a cracked heat exchanger", "Locked out the unit and quoted a heat exchanger replacement"),
        ("a tripped high-limit switch", "Reset the high-limit switch and tested the safeties"),
        ("low refrigerant charge", "Recharged refrigerant to spec"),
        ("a failed igniter", "Replaced the igniter"),
        ("a bad economizer actuator", "Replaced the economizer actuator"),
        ("clogged air filters", "Replaced air filters"),
        ("a miscalibrated thermostat", "Calibrated the thermostat"),
    ],
    pm_tasks: &[
        "filter change", "coil cleaning", "belt inspection", "refrigerant check",
        "condensate flush", "burner inspection", "combustion analysis", "damper check",
    ],
    makes: &[
        (
            "Carrier",
            &["24ACC636", "48TCED08", "50TC-A07", "FV4CNF003"],
        ),
        ("Trane", &["XR14", "YSC060", "TAM7A0C36", "XV20i"]),
        ("Lennox", &["XC21", "LGH120", "EL296V", "ML14XC1"]),
        ("Rheem", &["RA1436AJ1NA", "RKKL-A048", "R96V"]),
        ("Daikin", &["DZ16SA", "DX17VSS", "DPS010"]),
        ("York", &["ZF078", "YXV36", "TM9E"]),
        ("Goodman", &["GSX140361", "GMVC96", "ARUF37C14"]),
        ("Manitowoc", &["IYT0500A", "UDF0140A"]),
        ("Heatcraft", &["PTN050", "LET080"]),
    ],
};

#[rustfmt::skip]
const PLUMBING: TradeWords = TradeWords {
    equipment: &[
        "Water heater", "Backflow preventer", "Sewer line", "Grease trap", "Sump pump",
        "Booster pump", "Mop sink", "Floor drain", "Tankless water heater", "Restroom fixtures",
        "Main shutoff valve", "Recirculation pump",
    ],
    problems: &[
        "leaking at relief valve", "no hot water", "backing up", "slow to drain",
        "failed annual test", "making banging noise", "running continuously", "low water pressure",
        "overflowing", "leaking under slab", "odor complaint",
    ],
    repairs: &[
        ("a failed T&P relief valve", "Replaced the relief valve"),
        ("heavy scale buildup in the tank", "Flushed the tank and replaced the anode rod"),
        ("a root intrusion at 40 ft", "Jetted the line and ran a camera inspection"),
        ("a worn check valve", "Rebuilt the check valve and retested"),
        ("a cracked drain pipe", "Replaced 6 ft of drain pipe"),
        ("a failed pressure switch", "Replaced the pressure switch"),
        ("a stuck float switch", "Replaced the float switch and tested the pump"),
        ("a corroded dielectric union", "Replaced the dielectric unions"),
        ("a failed gas control valve", "Replaced the gas control valve"),
        ("grease buildup in the lateral", "Pumped and cleaned the grease trap"),
        ("a worn flush valve diaphragm", "Replaced the flush valve diaphragm"),
    ],
    pm_tasks: &[
        "backflow test", "tank flush", "drain jetting", "pump inspection", "trap cleaning",
        "fixture inspection",
    ],
    makes: &[
        ("A.O. Smith", &["BTH-199", "GPVL-50", "XI-50"]),
        ("Bradford White", &["RG250T6N", "EF100T399E"]),
        ("Rinnai", &["RU199iN", "RE160eN"]),
        ("Watts", &["LF909", "LF007M1-QT"]),
        ("Zurn Wilkins", &["375AST", "975XL2"]),
        ("Zoeller", &["M53", "N292"]),
        ("Lochinvar", &["AWN200PM", "CPN286"]),
    ],
};

#[rustfmt::skip]
const ELECTRICAL: TradeWords = TradeWords {
    equipment: &[
        "Main panel", "Panel B", "Emergency generator", "Parking lot lighting", "Exit signs",
        "Transfer switch", "Motor control center", "Dock lighting", "Service entrance", "UPS",
        "Sign lighting", "Outlet circuit 14",
    ],
    problems: &[
        "breaker tripping", "flickering", "failed monthly load test", "no power", "burning smell",
        "partial outage", "GFCI will not reset", "buzzing at panel", "lights out in east lot",
        "battery alarm",
    ],
    repairs: &[
        ("a loose neutral connection", "Torqued connections to spec"),
        ("a failed 20A breaker", "Replaced the breaker"),
        ("a shorted ballast", "Retrofitted the fixtures to LED"),
        ("corroded battery terminals", "Replaced the batteries and ran a load test"),
        ("an overloaded circuit", "Split the circuit and added a breaker"),
        ("a failed photocell", "Replaced the photocell"),
        ("water intrusion in the junction box", "Sealed the junction box and replaced wiring"),
        ("a failed transfer switch contactor", "Replaced the contactor and tested transfer"),
        ("a worn starter", "Replaced the motor starter"),
        ("a damaged GFCI receptacle", "Replaced the GFCI receptacle"),
    ],
    pm_tasks: &[
        "infrared scan", "generator load test", "battery check", "lighting survey",
        "panel torque check", "exit sign test",
    ],
    makes: &[
        ("Generac", &["SG150", "RD03022", "QT070"]),
        ("Kohler", &["KD800", "20RESD"]),
        ("Eaton", &["PRL1a", "ATC-300"]),
        ("Square D", &["QO142M200", "NF442L1"]),
        ("Siemens", &["P1X42", "S4836"]),
        ("Cummins", &["C150D6", "RS20A"]),
    ],
};

/// A list word as it reads inside a sentence: `Rooftop unit` becomes
/// `rooftop unit`, while acronyms (`RTU-2`, `VAV box`, `UPS`) stay as they are.
pub fn in_sentence(word: &str) -> String {
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second))
            if first.is_ascii_uppercase() && !second.is_ascii_uppercase() =>
        {
            let mut out = String::with_capacity(word.len());
            out.push(first.to_ascii_lowercase());
            out.push_str(&word[1..]);
            out
        }
        _ => word.to_string(),
    }
}

#[rustfmt::skip]
pub const SITE_NAMES: &[&str] = &[
    "Main Office", "Headquarters", "Warehouse", "Distribution Center", "North Campus",
    "South Building", "Plant 2", "Retail Store", "Kitchen", "Annex", "Clinic", "East Wing",
    "Service Center", "Corporate Office", "Storefront",
];

#[rustfmt::skip]
pub const ACCESS_NOTES: &[&str] = &[
    "Check in at the front desk and ask for facilities.",
    "Use the loading dock on the north side; ring the bell.",
    "Roof access by ladder in the mechanical room; key at security.",
    "Park in visitor spots only. Badge required after 6 PM.",
    "Gate code changes monthly; call the office before arrival.", "Dog on premises; call ahead.",
    "Service entrance off the alley behind the building.",
    "Escort required in production areas; safety glasses and steel toes.",
    "Do not block the fire lane. Building engineer on site 7 AM to 3 PM.",
    "Kitchen is closed to service between 11 AM and 2 PM.",
];

#[rustfmt::skip]
pub const INSPECTION_SUMMARIES: &[&str] = &[
    "Annual fire and safety inspection", "Quarterly preventive maintenance",
    "Pre-season cooling startup", "Pre-season heating startup", "Annual backflow certification",
    "Infrared inspection of switchgear", "Monthly generator test", "Semi-annual PM visit",
];

pub const INSTALLATION_SUMMARIES: &[&str] = &["Install new", "Replace", "Upgrade", "Add"];

#[rustfmt::skip]
pub const ACTIVITY_CALL_SUBJECTS: &[&str] = &[
    "Scheduling call", "Called to confirm arrival window", "Customer called about status",
    "Follow-up call after repair", "Quote discussion", "Callback requested",
    "Call about access to the roof",
];

#[rustfmt::skip]
pub const ACTIVITY_EMAIL_SUBJECTS: &[&str] = &[
    "Service report attached", "Quote for recommended repairs", "Appointment confirmation",
    "Invoice question", "Parts on order", "Photos from the site visit",
    "PM schedule for next quarter",
];

#[rustfmt::skip]
pub const ACTIVITY_MEETING_SUBJECTS: &[&str] = &[
    "Site walkthrough", "Quarterly service review", "Pre-installation meeting",
    "Budget review for equipment replacement", "Safety orientation",
];

#[rustfmt::skip]
pub const NOTE_SENTENCES: &[&str] = &[
    "Customer prefers morning appointments.", "Approved by the facilities manager by phone.",
    "Quote sent for the recommended replacement.",
    "Unit is past its expected service life; recommend budgeting for replacement.",
    "Tenant reported the issue again after hours.",
    "Parts ordered from the supplier; ETA two business days.",
    "Left a voicemail for the site contact.", "Photos uploaded to the work order.",
    "Technician needs a lift for the next visit.",
    "Customer asked that invoices reference the PO number.", "Access through the rear door only.",
    "All safeties tested and operating normally.", "Warranty claim submitted to the manufacturer.",
    "Second technician required for the heavy lift.",
];

#[rustfmt::skip]
pub const CONTRACT_NAMES: &[&str] = &[
    "Preventive Maintenance Agreement", "Full Coverage Service Agreement",
    "Planned Maintenance Plus", "Basic Inspection Plan", "Priority Response Agreement",
    "Comprehensive Mechanical Agreement",
];

#[rustfmt::skip]
pub const PART_CATALOG: &[(&str, Trade, &str, &str)] = &[
    // (name, trade, unit of measure, description)
    ("Run capacitor 45/5 MFD 440V", Trade::Hvac, "Each", "Dual run capacitor for condensers"),
    ("Contactor 2-pole 40A 24V coil", Trade::Hvac, "Each", "Definite purpose contactor"),
    ("Condenser fan motor 1/4 HP", Trade::Hvac, "Each", "825 RPM 208-230V motor"),
    ("Pleated filter 20x25x2 MERV 8", Trade::Hvac, "Box", "Box of 12 pleated filters"),
    ("V-belt A48", Trade::Hvac, "Each", "Classical V-belt"),
    ("Refrigerant R-410A", Trade::Hvac, "Each", "25 lb cylinder"),
    ("Copper line set 3/8 x 3/4", Trade::Hvac, "Foot", "Insulated copper line set"),
    ("Hot surface igniter", Trade::Hvac, "Each", "Universal silicon nitride igniter"),
    ("Condensate pump", Trade::Hvac, "Each", "120V condensate removal pump"),
    ("Programmable thermostat", Trade::Hvac, "Each", "7-day programmable thermostat"),
    ("Coil cleaner", Trade::Hvac, "Gallon", "Alkaline coil cleaner concentrate"),
    ("T&P relief valve 3/4 in", Trade::Plumbing, "Each", "Temperature and pressure relief valve"),
    ("Anode rod magnesium", Trade::Plumbing, "Each", "Replacement anode rod 44 in"),
    ("PVC pipe 4 in schedule 40", Trade::Plumbing, "Foot", "Solid wall PVC pipe"),
    ("Copper pipe type L 3/4 in", Trade::Plumbing, "Foot", "Hard drawn copper tube"),
    ("Flush valve repair kit", Trade::Plumbing, "Each", "Diaphragm kit for flushometers"),
    ("Backflow repair kit 1 in", Trade::Plumbing, "Each", "Rubber parts kit for RPZ"),
    ("Sump pump 1/2 HP", Trade::Plumbing, "Each", "Submersible cast iron sump pump"),
    ("Gas control valve", Trade::Plumbing, "Each", "Water heater gas control valve"),
    ("Drain cleaning enzyme", Trade::Plumbing, "Gallon", "Grease trap enzyme treatment"),
    ("Breaker 20A single pole", Trade::Electrical, "Each", "Plug-on circuit breaker"),
    ("GFCI receptacle 20A", Trade::Electrical, "Each", "Tamper resistant GFCI"),
    ("THHN wire 12 AWG", Trade::Electrical, "Foot", "Stranded copper building wire"),
    ("LED wall pack 80W", Trade::Electrical, "Each", "Outdoor LED wall pack 5000K"),
    ("Photocell 120-277V", Trade::Electrical, "Each", "Twist-lock photocontrol"),
    ("Generator battery 12V", Trade::Electrical, "Each", "Group 31 starting battery"),
    ("Exit sign LED", Trade::Electrical, "Each", "Exit sign with battery backup"),
    ("EMT conduit 3/4 in", Trade::Electrical, "Foot", "Electrical metallic tubing"),
    ("Wire connectors assorted", Trade::Electrical, "Box", "Box of 100 twist-on connectors"),
    ("Labor - overtime", Trade::Electrical, "Hour", "Billable overtime labor"),
    ("Labor - standard", Trade::Hvac, "Hour", "Billable standard labor"),
];

pub const REFRIGERANTS: &[&str] = &["R-410A", "R-22", "R-32", "R-454B", "R-134a", "R-404A"];

/// Text of the `unicode_text` dirt: accents, CJK and emoji in company names.
#[rustfmt::skip]
pub const UNICODE_COMPANY_NAMES: &[&str] = &[
    "Café Müller GmbH", "東京サービス株式会社", "Pipes & Co 🔧", "Crème Brûlée Pâtisserie",
    "Señor Jalapeño Cocina", "Zürich Kältetechnik AG", "北京暖通工程有限公司", "Øresund Façade ApS",
    "Ærø Smørrebrød", "Łódź Instalacje Sp. z o.o.", "서울 냉난방 주식회사", "Cool Breeze ❄️ HVAC",
    "Ünal Tesisat Ltd. Şti.", "Björk & Ström Fastigheter", "Đặng Refrigeration",
    "Ελληνική Ψύξη Α.Ε.", "Hot Dogs 🌭 & More", "São Paulo Climatização",
];

/// Phrases padding a company name past Dataverse's 160 characters
/// (`name_too_long`), as a legal department might write it.
#[rustfmt::skip]
pub const LONG_NAME_PHRASES: &[&str] = &[
    "doing business as", "Heating Ventilation Air Conditioning and Refrigeration Contractors",
    "of the Greater Metropolitan Area", "a Division of Consolidated Facilities Management Holdings",
    "Successor in Interest to the Former Regional Building Services Partnership",
    "Attention Accounts Payable Department",
    "for all Locations Owned and Operated under the Master Services Agreement",
];

/// Fragments of work-order summaries that run past incident.title's 200
/// characters (`title_too_long`), as a dispatcher pasting a phone call would.
#[rustfmt::skip]
pub const LONG_TITLE_PHRASES: &[&str] = &[
    "customer reports intermittent issue since last week", "tenant in suite 210 also complaining",
    "please call the building engineer before arrival",
    "roof access requires lift and second technician",
    "check the other units on the same circuit while on site",
    "quote needed for full replacement if repair exceeds 1500 dollars",
    "warranty status unknown, verify serial number",
    "previous technician noted low charge in March",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_cities_have_no_leading_zero_postal_codes() {
        for c in CITIES {
            assert!(!c.postal_code.starts_with('0'), "{}", c.name);
            assert_eq!(c.postal_code.len(), 5);
            assert_eq!(c.state.len(), 2);
            assert_ne!(state_name(c.state), "Unknown", "{}", c.state);
        }
    }

    #[test]
    fn leading_zero_cities_are_new_england() {
        for c in LEADING_ZERO_CITIES {
            assert!(c.postal_code.starts_with('0'));
            assert!(["MA", "RI", "CT", "ME", "VT", "NH"].contains(&c.state));
            assert_ne!(state_name(c.state), "Unknown");
        }
    }

    #[test]
    fn clean_words_are_plain_ascii() {
        let lists: &[&[&str]] = &[
            STREET_NAMES,
            FIRST_NAMES,
            LAST_NAMES,
            COMPANY_HEADS,
            JOB_TITLES,
            SITE_NAMES,
            ACCESS_NOTES,
            NOTE_SENTENCES,
            CONTRACT_NAMES,
            ACTIVITY_CALL_SUBJECTS,
            ACTIVITY_EMAIL_SUBJECTS,
            ACTIVITY_MEETING_SUBJECTS,
            LONG_NAME_PHRASES,
            LONG_TITLE_PHRASES,
        ];
        for list in lists {
            for w in *list {
                assert!(
                    w.is_ascii() && !w.contains(['"', '<', '>', '\n', '\r']),
                    "{w}"
                );
            }
        }
        for t in [Trade::Hvac, Trade::Plumbing, Trade::Electrical] {
            let words = trade_words(t);
            let repairs = words.repairs.iter().flat_map(|(f, a)| [f, a]);
            for w in words.equipment.iter().chain(words.problems).chain(repairs) {
                assert!(w.is_ascii() && !w.contains(['"', '<', '>']), "{w}");
            }
        }
    }

    #[test]
    fn words_inside_sentences_keep_acronyms() {
        assert_eq!(in_sentence("Rooftop unit"), "rooftop unit");
        assert_eq!(in_sentence("RTU-2"), "RTU-2");
        assert_eq!(in_sentence("VAV box"), "VAV box");
        assert_eq!(in_sentence("UPS"), "UPS");
    }

    #[test]
    fn unicode_names_are_not_ascii() {
        assert!(UNICODE_COMPANY_NAMES.iter().all(|n| !n.is_ascii()));
    }
}
